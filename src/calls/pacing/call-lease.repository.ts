import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { CoalescedInserts } from '../../common/mongo/coalesced-inserts';
import { insertedUnlessDuplicate, op } from '../../common/mongo/mongo-query';
import { CallLeaseDoc } from '../schemas/call-lease.schema';

@Injectable()
export class CallLeaseRepository {
  // Dials taking seats at once share one insertMany; each seat is still its own unique key.
  private readonly inserts: CoalescedInserts<CallLeaseDoc>;

  constructor(@InjectModel(CallLeaseDoc.name) private readonly leases: Model<CallLeaseDoc>) {
    this.inserts = new CoalescedInserts(leases);
  }

  // Takes a free seat among `seats`, starting at a random one so instances rarely collide.
  async takeSeat(key: string, seats: number, callLogId: string, now: Date, expiresAt: Date): Promise<boolean> {
    const first = Math.floor(Math.random() * seats);
    for (let i = 0; i < seats; i++) {
      const _id = `${key}:${(first + i) % seats}`;
      if (await this.insert(_id, key, callLogId, now, expiresAt)) return true;
      // An expired seat is freed by a conditional delete; the insert after it still decides who gets it.
      const freed = await this.leases.deleteOne({ _id, expires_at: op({ $lt: now }) });
      if (freed.deletedCount === 1 && (await this.insert(_id, key, callLogId, now, expiresAt))) return true;
    }
    return false;
  }

  async releaseFor(callLogId: string): Promise<number> {
    const res = await this.leases.deleteMany({ call_log_id: callLogId });
    return res.deletedCount;
  }

  private insert(_id: string, key: string, callLogId: string, now: Date, expiresAt: Date): Promise<boolean> {
    return insertedUnlessDuplicate(() => this.inserts.insert({ _id, key, call_log_id: callLogId, acquired_at: now, expires_at: expiresAt }));
  }
}
