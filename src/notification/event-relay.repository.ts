import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { CoalescedDeletes, CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { insertedUnlessDuplicate, retryOnLockContention } from '../common/mongo/mongo-query';
import { EventRelayPendingDoc } from './schemas/notification-event.schema';

export interface PendingRelay {
  id: string;
  at: Date;
  type: string;
  data: Record<string, unknown>;
  campaign_id: string | null;
  for_campaign: boolean | null;
  attempts: number;
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
  async hold(entry: Omit<PendingRelay, 'attempts'>): Promise<void> {
    const { id, ...rest } = entry;
    await retryOnLockContention(() => insertedUnlessDuplicate(() => this.inserts.insert({ _id: id, ...rest })));
  }

  release(id: string): Promise<void> {
    return this.deletes.delete(id);
  }

  // Only the pass writes these two fields (two passes at once write the same values, give or take a retry).
  async postpone(id: string, attempts: number, nextAt: Date): Promise<void> {
    await this.pending.updateOne({ _id: id }, { $set: { attempts, next_at: nextAt } });
  }

  // Held since before `strandedBefore` and not waiting out a backoff, oldest turn first. The collection holds
  // only events in flight or stranded: it is read whole and selected in code.
  async due(now: Date, strandedBefore: Date, limit: number): Promise<PendingRelay[]> {
    const docs = await this.pending.find({}).lean<Array<EventRelayPendingDoc & { _id: string }>>();
    const turn = (d: EventRelayPendingDoc) => (d.next_at ?? d.at).getTime();
    return docs
      .filter((d) => d.at < strandedBefore && (!d.next_at || d.next_at <= now))
      .sort((a, b) => turn(a) - turn(b))
      .slice(0, limit)
      .map(({ _id, at, type, data, campaign_id, for_campaign, attempts }) => ({ id: _id, at, type, data, campaign_id: campaign_id ?? null, for_campaign: for_campaign ?? null, attempts: attempts ?? 0 }));
  }
}
