import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { insertedUnlessDuplicate, op } from '../common/mongo/mongo-query';
import { findPageWithin } from '../common/mongo/query-time-limit';
import { WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { AppConfig } from '../config/app-config';
import { CampaignAttempt } from './campaign.types';
import { CAMPAIGN_ATTEMPT_WRITE_GATE, CampaignAttemptDoc, CampaignSlotDoc } from './schemas/campaign-attempt.schema';

type LeanAttempt = CampaignAttemptDoc & { _id: Types.ObjectId; rev?: number | null };

function toAttempt(doc: LeanAttempt): CampaignAttempt {
  const { _id, day: _day, rev: _rev, ...rest } = doc;
  return { id: _id.toHexString(), ...(rest as unknown as Omit<CampaignAttempt, 'id'>) };
}

export function attemptKey(campaignId: string, contactId: string, attemptNumber: number): string {
  return `${campaignId}:${contactId}:${attemptNumber}`;
}

@Injectable()
export class CampaignAttemptRepository {
  constructor(
    @InjectModel(CampaignAttemptDoc.name) private readonly attempts: Model<CampaignAttemptDoc>,
    @InjectModel(CampaignSlotDoc.name) private readonly slots: Model<CampaignSlotDoc>,
    @InjectModel(CAMPAIGN_ATTEMPT_WRITE_GATE) gates: Model<WriteGateDoc>,
    private readonly config: AppConfig,
  ) {
    this.gate = new WriteGate<LeanAttempt>(attempts, gates);
  }

  private readonly gate: WriteGate<LeanAttempt>;

  newId(): string {
    return new Types.ObjectId().toHexString();
  }

  // The exactly-once gate: false when another instance already owns this attempt number.
  async insertAttempt(attempt: CampaignAttempt, day: string): Promise<boolean> {
    const { id, ...fields } = attempt;
    return insertedUnlessDuplicate(() => this.attempts.create({ _id: new Types.ObjectId(id), ...fields, day }));
  }

  async deleteAttempt(id: string): Promise<void> {
    await this.attempts.deleteOne({ _id: new Types.ObjectId(id) });
  }

  // An attempt's schedule is created under the attempt's own id, so this is a read by _id: every call's
  // ending asks it, most of them for schedules that are no campaign's, and a read by another field scans
  // the collection on the stand-in database.
  async findBySchedule(scheduleId: string): Promise<CampaignAttempt | null> {
    const attempt = await this.findById(scheduleId);
    return attempt?.schedule_id === scheduleId ? attempt : null;
  }

  async findById(id: string): Promise<CampaignAttempt | null> {
    if (!Types.ObjectId.isValid(id)) return null;
    const doc = await this.attempts.findOne({ _id: new Types.ObjectId(id) }).lean<LeanAttempt>();
    return doc ? toAttempt(doc) : null;
  }

  async findOpen(campaignId: string, createdBefore: Date, limit: number): Promise<CampaignAttempt[]> {
    const docs = await this.attempts
      .find({ campaign_id: campaignId, state: 'open', created_at: op({ $lte: createdBefore }) })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<LeanAttempt[]>();
    return docs.map(toAttempt);
  }

  async markSettled(id: string, outcome: string, now: Date, call: Pick<CampaignAttempt, 'call_id' | 'error_code'>): Promise<void> {
    // The first settlement's outcome stands: a second one (listener and tick at once) finds it settled on the gated read.
    await this.gate.update(new Types.ObjectId(id), (a) => (a.state === 'open' ? { state: 'settled', outcome, settled_at: now, call_id: call.call_id, error_code: call.error_code } : null));
  }

  // A campaign's attempts, newest first; the caller has checked the campaign is the tenant's.
  async listForCampaign(campaignId: string, contactId: string | undefined, limit: number, offset: number): Promise<{ items: CampaignAttempt[]; total: number }> {
    const query: Record<string, unknown> = { campaign_id: campaignId };
    if (contactId) query.contact_id = contactId;
    const [docs, total] = await findPageWithin<CampaignAttemptDoc, LeanAttempt>(this.attempts, query, { created_at: -1, _id: -1 }, { offset, limit }, this.config.apiQueryMaxTimeMs);
    return { items: docs.map(toAttempt), total };
  }

  async countForDay(campaignId: string, day: string): Promise<number> {
    return this.attempts.countDocuments({ campaign_id: campaignId, day });
  }

  // Safe for exactly-once: a contact's ledger counter has moved past every settled attempt number.
  async deleteSettledBefore(before: Date, tenantId: string | null): Promise<number> {
    const res = await this.attempts.deleteMany({ ...(tenantId ? { tenant_id: tenantId } : {}), state: 'settled', settled_at: op({ $lt: before }) });
    return res.deletedCount ?? 0;
  }

  // A concurrency seat of the campaign (0..max-1), taken by unique insert so that instances never share one.
  async takeSeat(campaignId: string, max: number, key: string, now: Date): Promise<boolean> {
    const taken = new Set(
      (await this.slots.find({ campaign_id: campaignId, kind: 'seat' }, { _id: 1 }).lean<Array<{ _id: string }>>()).map((s) => s._id),
    );
    for (let n = 0; n < max; n++) {
      const id = `seat:${campaignId}:${n}`;
      if (taken.has(id)) continue;
      if (await insertedUnlessDuplicate(() => this.slots.create({ _id: id, campaign_id: campaignId, kind: 'seat', attempt_key: key, created_at: now }))) return true;
    }
    return false;
  }

  // One of the day's `cap` slots; slots are never given back, so the cap holds across instances.
  async takeDaySlot(campaignId: string, day: string, cap: number, key: string, now: Date): Promise<boolean> {
    const kind = `day:${day}`;
    for (let n = await this.slots.countDocuments({ campaign_id: campaignId, kind }); n < cap; n++) {
      const id = `${kind}:${campaignId}:${n}`;
      if (await insertedUnlessDuplicate(() => this.slots.create({ _id: id, campaign_id: campaignId, kind, attempt_key: key, created_at: now }))) return true;
    }
    return false;
  }

  async seatsInUse(campaignId: string): Promise<number> {
    return this.slots.countDocuments({ campaign_id: campaignId, kind: 'seat' });
  }

  async releaseSeat(key: string): Promise<void> {
    await this.slots.deleteMany({ attempt_key: key, kind: 'seat' });
  }

  // Undo of a claim that lost the attempt insert: its day slot was never used for a dial.
  async releaseAllSlots(key: string): Promise<void> {
    await this.slots.deleteMany({ attempt_key: key });
  }

  async seats(campaignId: string): Promise<Array<{ attempt_key: string; created_at: Date }>> {
    return this.slots.find({ campaign_id: campaignId, kind: 'seat' }, { attempt_key: 1, created_at: 1 }).lean<Array<{ attempt_key: string; created_at: Date }>>();
  }

  async deleteDaySlotsBefore(before: Date): Promise<void> {
    await this.slots.deleteMany({ kind: op({ $ne: 'seat' }), created_at: op({ $lt: before }) });
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([this.attempts.syncIndexes(), this.slots.syncIndexes()]);
  }
}
