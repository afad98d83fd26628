import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { CoalescedDeletes, CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { insertedUnlessDuplicate, op, retryOnLockContention } from '../common/mongo/mongo-query';
import { EventRelayPendingDoc } from './schemas/notification-event.schema';

export interface PendingRelay {
  id: string;
  at: Date;
  type: string;
  data: Record<string, unknown>;
  campaign_id: string | null;
}

@Injectable()
export class EventRelayRepository {
  // Events stored at once (a burst of final callbacks) share one insertMany and one delete.
  private readonly inserts: CoalescedInserts<EventRelayPendingDoc>;
  private readonly deletes: CoalescedDeletes<EventRelayPendingDoc>;

  constructor(@InjectModel(EventRelayPendingDoc.name) private readonly pending: Model<EventRelayPendingDoc>) {
    this.inserts = new CoalescedInserts(pending);
    this.deletes = new CoalescedDeletes(pending);
  }

  // A repeat (the same stored event held again after a crash) is a refused unique insert.
  async hold(entry: PendingRelay): Promise<void> {
    const { id, ...rest } = entry;
    await retryOnLockContention(() => insertedUnlessDuplicate(() => this.inserts.insert({ _id: id, ...rest })));
  }

  release(id: string): Promise<void> {
    return this.deletes.delete(id);
  }

  // The collection holds only events in flight or stranded: read whole, oldest first, in code.
  async heldBefore(cutoff: Date, limit: number): Promise<PendingRelay[]> {
    const docs = await this.pending.find({ at: op({ $lt: cutoff }) }).lean<Array<EventRelayPendingDoc & { _id: string }>>();
    return docs
      .sort((a, b) => a.at.getTime() - b.at.getTime())
      .slice(0, limit)
      .map(({ _id, at, type, data, campaign_id }) => ({ id: _id, at, type, data, campaign_id: campaign_id ?? null }));
  }
}
