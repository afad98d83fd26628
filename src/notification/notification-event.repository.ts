import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { op, retryOnLockContention } from '../common/mongo/mongo-query';
import { DomainEventName } from './domain-events';
import { NotificationEventDoc } from './schemas/notification-event.schema';
import { StoredEvent } from './notification.types';

type LeanEvent = NotificationEventDoc & { _id: Types.ObjectId };

function toEvent({ _id, ...rest }: LeanEvent): StoredEvent {
  return { id: _id.toHexString(), tenant_id: rest.tenant_id, type: rest.type as DomainEventName, created_at: rest.created_at, data: rest.data };
}

export interface StreamScope {
  tenantId: string;
  allTenants: boolean;
}

@Injectable()
export class NotificationEventRepository {
  constructor(@InjectModel(NotificationEventDoc.name) private readonly events: Model<NotificationEventDoc>) {}

  // Ids are ObjectIds minted here, in publish order: within one process they are strictly increasing,
  // which is what Last-Event-ID resume compares.
  async append(event: Omit<StoredEvent, 'id'>): Promise<StoredEvent> {
    const _id = new Types.ObjectId();
    await retryOnLockContention(() => this.events.create({ _id, ...event }));
    return { id: _id.toHexString(), ...event };
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
