import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { insertedUnlessDuplicate, op } from '../common/mongo/mongo-query';
import { CallStatusReceiptDoc } from './schemas/call-status-receipt.schema';

@Injectable()
export class CallStatusReceiptRepository {
  // A burst of callbacks records its receipts in one insertMany; each is still its own unique key.
  private readonly inserts: CoalescedInserts<CallStatusReceiptDoc>;

  constructor(@InjectModel(CallStatusReceiptDoc.name) private readonly receipts: Model<CallStatusReceiptDoc>) {
    this.inserts = new CoalescedInserts(receipts);
  }

  // true the first time this (call, sequence) is seen; false for a redelivery.
  async recordFirstDelivery(callSid: string, dedupeKey: string, now: Date): Promise<boolean> {
    return insertedUnlessDuplicate(() => this.inserts.insert({ call_sid: callSid, dedupe_key: dedupeKey, received_at: now }));
  }

  async receivedAt(callSid: string, dedupeKey: string): Promise<Date | null> {
    const doc = await this.receipts.findOne({ call_sid: callSid, dedupe_key: dedupeKey }, { received_at: 1 }).lean<{ received_at: Date }>();
    return doc?.received_at ?? null;
  }

  // A redelivery that takes over an abandoned delivery restarts its clock: later copies wait for it.
  // Not atomic on FerretDB: two takeovers at once may both proceed, which is safe because the log write
  // itself refuses a timeline entry it already holds (CallLogRepository.applyStatusEvent, under its gate).
  async renewDelivery(callSid: string, dedupeKey: string, now: Date): Promise<void> {
    await this.receipts.updateOne({ call_sid: callSid, dedupe_key: dedupeKey }, { $set: { received_at: now } });
  }

  async forgetDelivery(callSid: string, dedupeKey: string): Promise<void> {
    await this.receipts.deleteOne({ call_sid: callSid, dedupe_key: dedupeKey });
  }

  async deleteReceivedBefore(cutoff: Date): Promise<number> {
    return (await this.receipts.deleteMany({ received_at: op({ $lt: cutoff }) })).deletedCount;
  }

  async ensureIndexes(): Promise<void> {
    await this.receipts.syncIndexes();
  }
}
