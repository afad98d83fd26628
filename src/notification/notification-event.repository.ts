import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { InsertBatcher } from '../common/mongo/insert-batcher';
import { insertedUnlessDuplicate, op, retryOnLockContention } from '../common/mongo/mongo-query';
import { DomainEventName } from './domain-events';
import { NotificationEventDoc, NotificationEventKeyDoc } from './schemas/notification-event.schema';
import { StoredEvent } from './notification.types';

type LeanEvent = NotificationEventDoc & { _id: Types.ObjectId };

function toEvent({ _id, ...rest }: LeanEvent): StoredEvent {
  return { id: _id.toHexString(), tenant_id: rest.tenant_id, type: rest.type as DomainEventName, created_at: rest.created_at, data: rest.data };
}

// Events appended while a write is in flight go out together in the next one, up to this many.
const MAX_BATCH = 500;
// What recording an event may add to its way to SSE and webhooks.
const GATHER_MS = 10;

type EventDoc = Omit<StoredEvent, 'id'> & { _id: Types.ObjectId };

export interface StreamScope {
  tenantId: string;
  allTenants: boolean;
}

@Injectable()
export class NotificationEventRepository {
  // Concurrent keys share one insert, each still won or refused on its own.
  private readonly keyInserts: CoalescedInserts<NotificationEventKeyDoc>;

  constructor(
    @InjectModel(NotificationEventDoc.name) private readonly events: Model<NotificationEventDoc>,
    @InjectModel(NotificationEventKeyDoc.name) private readonly keys: Model<NotificationEventKeyDoc>,
  ) {
    this.keyInserts = new CoalescedInserts(keys);
  }

  // Every domain event lands here (a burst of dials and callbacks makes many at once): appends are written
  // together, one ordered insert at a time.
  private readonly batcher = new InsertBatcher<EventDoc>((docs) => this.storeBatch(docs), GATHER_MS, MAX_BATCH);

  // Keyed events (appendOnce) are waited for by the change that stores them (a dial, a callback): they go
  // out at once, in ordered inserts of their own, instead of waiting out the gather (a callback's progress
  // event cost 35 ms of its p50 with it, at 20 calls in flight).
  private readonly keyedBatcher = new InsertBatcher<EventDoc>((docs) => this.storeBatch(docs), 0, MAX_BATCH);

  // Ids are ObjectIds minted here, in publish order: within one process they are strictly increasing,
  // which is what Last-Event-ID resume compares. The batches are ordered inserts, one at a time, so a later
  // id of this process is never stored before an earlier one; keyed events (appendOnce, appendWithId) are the
  // exception: their ids are taken before their key (or with the change they report), and their inserts
  // skip this batch's gather. Resolves once the event is stored.
  async append(event: Omit<StoredEvent, 'id'>): Promise<StoredEvent> {
    const _id = new Types.ObjectId();
    await this.batcher.add({ _id, ...event });
    return { id: _id.toHexString(), ...event };
  }

  // append, at most once per key: a repeat (the outcome sweep redoing a call's final status after a crash)
  // gets the event the first try stored, or stores it under the first try's id if that try stopped between
  // winning the key and storing the event. Resolves once the event is stored.
  async appendOnce(key: string, event: Omit<StoredEvent, 'id'>): Promise<StoredEvent> {
    const _id = new Types.ObjectId();
    if (await insertedUnlessDuplicate(() => this.keyInserts.insert({ _id: key, event_id: _id, at: event.created_at }))) {
      await this.keyedBatcher.add({ _id, ...event });
      return { id: _id.toHexString(), ...event };
    }
    const held = await this.keys.findById(key).lean<{ event_id: Types.ObjectId }>();
    if (!held) throw new Error(`notification event key ${key} refused, then not found`);
    const stored = await this.events.findById(held.event_id).lean<LeanEvent>();
    if (stored) return toEvent(stored);
    await insertedUnlessDuplicate(() => this.events.collection.insertOne({ _id: held.event_id, ...event }));
    return { id: held.event_id.toHexString(), ...event };
  }

  // append under an id the caller derives from the change itself (a new schedule's schedule.created takes
  // the schedule's id, minted just before): a repeat's insert is refused by the _id and stores nothing twice,
  // with no key to write first. Resolves once the event is stored.
  async appendWithId(id: string, event: Omit<StoredEvent, 'id'>): Promise<StoredEvent> {
    await this.keyedBatcher.add({ _id: new Types.ObjectId(id), ...event });
    return { id, ...event };
  }

  // Per document of an ordered batch: undefined (stored) or the error that kept it (and those after it) out.
  private async storeBatch(docs: EventDoc[]): Promise<unknown[]> {
    const { stored, error } = await this.insertInOrder(docs);
    return docs.map((_, i) => (i < stored ? undefined : (error ?? new Error('notification event not stored'))));
  }

  // One ordered insert; if it fails part way (a lost connection, a busy database), the rest one at a time,
  // in order, where a duplicate key is a document the failed attempt had stored after all. Returns how many
  // (from the start) are stored, and the error that stopped the rest.
  private async insertInOrder(docs: EventDoc[]): Promise<{ stored: number; error: unknown }> {
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
    await this.keys.deleteMany({ at: op({ $lt: cutoff }) });
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
    await Promise.all([this.events.syncIndexes(), this.keys.syncIndexes()]);
  }
}
