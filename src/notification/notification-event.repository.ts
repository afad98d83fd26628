import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { insertedUnlessDuplicate, op, retryOnLockContention } from '../common/mongo/mongo-query';
import { DomainEventName } from './domain-events';
import { NotificationEventDoc } from './schemas/notification-event.schema';
import { StoredEvent } from './notification.types';

type LeanEvent = NotificationEventDoc & { _id: Types.ObjectId };

function toEvent({ _id, ...rest }: LeanEvent): StoredEvent {
  return { id: _id.toHexString(), tenant_id: rest.tenant_id, type: rest.type as DomainEventName, created_at: rest.created_at, data: rest.data };
}

// Events appended while a write is in flight go out together in the next one, up to this many.
const MAX_BATCH = 500;
// What recording an event may add to its way to SSE and webhooks.
const GATHER_MS = 10;

interface Pending {
  doc: Omit<StoredEvent, 'id'> & { _id: Types.ObjectId };
  settle: (error?: unknown) => void;
}

export interface StreamScope {
  tenantId: string;
  allTenants: boolean;
}

@Injectable()
export class NotificationEventRepository {
  constructor(@InjectModel(NotificationEventDoc.name) private readonly events: Model<NotificationEventDoc>) {}

  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;

  // Ids are ObjectIds minted here, in publish order: within one process they are strictly increasing,
  // which is what Last-Event-ID resume compares. Every domain event lands here (a burst of dials and
  // callbacks makes many at once), so appends are written together, one ordered insert at a time: one
  // database command for many events, and never a later id stored before an earlier one of this process.
  // Resolves once the event is stored.
  append(event: Omit<StoredEvent, 'id'>): Promise<StoredEvent> {
    const _id = new Types.ObjectId();
    return new Promise<StoredEvent>((resolve, reject) => {
      this.queue.push({ doc: { _id, ...event }, settle: (error) => (error === undefined ? resolve({ id: _id.toHexString(), ...event }) : reject(error)) });
      this.writing ??= this.writeQueued();
    });
  }

  private async writeQueued(): Promise<void> {
    // Appends made within GATHER_MS join the first write (dials and callbacks end a few ms apart).
    await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      const { stored, error } = await this.insertInOrder(batch.map((p) => p.doc));
      batch.forEach((p, i) => p.settle(i < stored ? undefined : (error ?? new Error('notification event not stored'))));
    }
    this.writing = null;
  }

  // One ordered insert; if it fails part way (a lost connection, a busy database), the rest one at a time,
  // in order, where a duplicate key is a document the failed attempt had stored after all. Returns how many
  // (from the start) are stored, and the error that stopped the rest.
  private async insertInOrder(docs: Pending['doc'][]): Promise<{ stored: number; error: unknown }> {
    try {
      await this.events.collection.insertMany(docs, { ordered: true });
      return { stored: docs.length, error: undefined };
    } catch {
      for (let i = 0; i < docs.length; i++) {
        try {
          await retryOnLockContention(() => insertedUnlessDuplicate(() => this.events.collection.insertOne(docs[i])));
        } catch (error) {
          return { stored: i, error };
        }
      }
      return { stored: docs.length, error: undefined };
    }
  }

  async listAfter(scope: StreamScope, afterId: string, limit: number): Promise<StoredEvent[]> {
    const filter: Record<string, unknown> = { _id: op({ $gt: new Types.ObjectId(afterId) }) };
    if (!scope.allTenants) filter.tenant_id = scope.tenantId;
    const docs = await this.events.find(filter).sort({ _id: 1 }).limit(limit).lean<LeanEvent[]>();
    return docs.map(toEvent);
  }

  async pruneOlderThan(cutoff: Date): Promise<number> {
    const res = await this.events.deleteMany({ created_at: op({ $lt: cutoff }) });
    return res.deletedCount;
  }

  // Keeps each tenant's newest `keep` events. Per tenant, because $facet/$lookup are off-limits on FerretDB.
  async pruneBeyondCountPerTenant(keep: number): Promise<number> {
    const tenants = (await this.events.distinct('tenant_id')) as string[];
    let deleted = 0;
    for (const tenant_id of tenants) {
      const boundary = await this.events.findOne({ tenant_id }, { _id: 1 }).sort({ _id: -1 }).skip(keep).lean<{ _id: Types.ObjectId }>();
      if (!boundary) continue;
      const res = await this.events.deleteMany({ tenant_id, _id: op({ $lte: boundary._id }) });
      deleted += res.deletedCount;
    }
    return deleted;
  }

  async ensureIndexes(): Promise<void> {
    await this.events.syncIndexes();
  }
}
