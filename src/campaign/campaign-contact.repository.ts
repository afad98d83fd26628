import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { isDuplicateKeyError, op, toObjectId } from '../common/mongo/mongo-query';
import { findPageWithin } from '../common/mongo/query-time-limit';
import { WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { AppConfig } from '../config/app-config';
import { CampaignContact, CONTACT_STATUSES, ContactCounters, ContactStatus, SELECTABLE_CONTACT_STATUSES } from './campaign.types';
import { CAMPAIGN_CONTACT_WRITE_GATE, CampaignContactDoc } from './schemas/campaign-contact.schema';

type LeanContact = CampaignContactDoc & { _id: Types.ObjectId; rev?: number | null };
const selectable = (status: string) => (SELECTABLE_CONTACT_STATUSES as readonly string[]).includes(status);
export type NewContact = Pick<CampaignContact, 'phone' | 'name' | 'timezone' | 'variables' | 'due_date'> & Partial<Pick<CampaignContact, 'contact_status'>>;

function toContact(doc: LeanContact): CampaignContact {
  const { _id, rev: _rev, ...rest } = doc;
  return { id: _id.toHexString(), ...(rest as unknown as Omit<CampaignContact, 'id'>) };
}

@Injectable()
export class CampaignContactRepository {
  // A contact is written by the runner starting an attempt, by settlements (the outcome listener and the
  // tick, possibly at once on several instances), by the daily batch's release and by settings changes:
  // every write after the import goes through the gate (see WriteGate), so none undoes another.
  private readonly gate: WriteGate<LeanContact>;

  constructor(
    @InjectModel(CampaignContactDoc.name) private readonly contacts: Model<CampaignContactDoc>,
    @InjectModel(CAMPAIGN_CONTACT_WRITE_GATE) gates: Model<WriteGateDoc>,
    private readonly config: AppConfig,
  ) {
    this.gate = new WriteGate<LeanContact>(contacts, gates);
  }

  // Unordered insert: duplicates (the unique (campaign, phone) index) are counted, the rest land.
  async insertNew(campaignId: string, tenantId: string, rows: NewContact[], now: Date, eligibleFrom: Date): Promise<{ inserted: number; duplicates: number }> {
    if (rows.length === 0) return { inserted: 0, duplicates: 0 };
    const docs = rows.map((r) => ({
      contact_status: null,
      ...r,
      campaign_id: campaignId,
      tenant_id: tenantId,
      status: 'pending',
      attempts: 0,
      attempt_seq: 0,
      current_attempt_id: null,
      last_attempt_at: null,
      last_outcome: null,
      // A plain range query selects (no $or over null): eligible from import on, or from the daily release.
      next_attempt_at: eligibleFrom,
      day_key: null,
      day_attempts: 0,
      created_at: now,
      updated_at: now,
    }));
    try {
      const res = await this.contacts.collection.insertMany(docs, { ordered: false });
      return { inserted: res.insertedCount, duplicates: 0 };
    } catch (error) {
      const bulk = error as { insertedCount?: number; result?: { insertedCount?: number }; writeErrors?: Array<{ code?: number }> | { code?: number } };
      const writeErrors = Array.isArray(bulk.writeErrors) ? bulk.writeErrors : bulk.writeErrors ? [bulk.writeErrors] : [];
      if (writeErrors.length === 0 || !writeErrors.every((e) => e.code === 11000 || isDuplicateKeyError(e))) throw error;
      const inserted = bulk.insertedCount ?? bulk.result?.insertedCount ?? rows.length - writeErrors.length;
      return { inserted, duplicates: rows.length - inserted };
    }
  }

  async findById(id: string): Promise<CampaignContact | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.contacts.findOne({ _id }).lean<LeanContact>();
    return doc ? toContact(doc) : null;
  }

  async findByIds(ids: string[]): Promise<CampaignContact[]> {
    const objectIds = ids.map(toObjectId).filter((v): v is Types.ObjectId => v !== null);
    if (objectIds.length === 0) return [];
    const docs = await this.contacts.find({ _id: op({ $in: objectIds }) }).lean<LeanContact[]>();
    return docs.map(toContact);
  }

  async list(campaignId: string, status: ContactStatus | undefined, limit: number, offset: number): Promise<{ items: CampaignContact[]; total: number }> {
    const query: Record<string, unknown> = { campaign_id: campaignId };
    if (status) query.status = status;
    const [docs, total] = await findPageWithin<CampaignContactDoc, LeanContact>(this.contacts, query, { _id: 1 }, { offset, limit }, this.config.apiQueryMaxTimeMs);
    return { items: docs.map(toContact), total };
  }

  // Candidates for the next attempts, oldest-waiting first; caps and the window are checked by the caller.
  async findSelectable(campaignId: string, now: Date, limit: number): Promise<CampaignContact[]> {
    const docs = await this.contacts
      .find({
        campaign_id: campaignId,
        status: op({ $in: SELECTABLE_CONTACT_STATUSES }),
        next_attempt_at: op({ $lte: now }),
      })
      .sort({ next_attempt_at: 1, _id: 1 })
      .limit(limit)
      .lean<LeanContact[]>();
    return docs.map(toContact);
  }

  async earliestNextAttempt(campaignId: string): Promise<Date | null> {
    const doc = await this.contacts
      .findOne({ campaign_id: campaignId, status: op({ $in: SELECTABLE_CONTACT_STATUSES }) }, { next_attempt_at: 1 })
      .sort({ next_attempt_at: 1 })
      .lean<{ next_attempt_at: Date }>();
    return doc?.next_attempt_at ?? null;
  }

  // Counts with $group/$sum:1 (FerretDB answers $sum:"$field" with 0); zeros filled in code.
  async countByStatus(campaignId: string): Promise<ContactCounters> {
    const rows = await this.contacts.aggregate<{ _id: string; n: number }>([{ $match: { campaign_id: campaignId } }, { $group: { _id: '$status', n: { $sum: 1 } } }]);
    const counters = Object.fromEntries(CONTACT_STATUSES.map((s) => [s, 0])) as ContactCounters;
    counters.total = 0;
    for (const row of rows) {
      if ((CONTACT_STATUSES as readonly string[]).includes(row._id)) counters[row._id as ContactStatus] = row.n;
      counters.total += row.n;
    }
    return counters;
  }

  async countActive(campaignId: string): Promise<number> {
    return this.contacts.countDocuments({ campaign_id: campaignId, status: op({ $in: [...SELECTABLE_CONTACT_STATUSES, 'in_progress'] }) });
  }

  async countInProgress(campaignId: string): Promise<number> {
    return this.contacts.countDocuments({ campaign_id: campaignId, status: 'in_progress' });
  }

  async findInProgress(campaignId: string, limit: number): Promise<CampaignContact[]> {
    const docs = await this.contacts.find({ campaign_id: campaignId, status: 'in_progress' }).limit(limit).lean<LeanContact[]>();
    return docs.map(toContact);
  }

  // Guarded by the ledger counter the caller read: only the instance that won the attempt insert gets here.
  async markAttemptStarted(id: string, seqRead: number, set: Partial<CampaignContact>): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    const res = await this.gate.update(_id, (c) => (c.attempt_seq === seqRead ? set : null));
    return res?.changed === true;
  }

  async settleAttempt(id: string, attemptId: string, set: Partial<CampaignContact>): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    // Of two settlements of one attempt (listener and tick), the gated read lets only the first see it in progress.
    const res = await this.gate.update(_id, (c) => (c.current_attempt_id === attemptId && c.status === 'in_progress' ? set : null));
    return res?.changed === true;
  }

  // The daily batch hands a due contact to its campaign's selection (from `at`, by default at once).
  async release(id: string, now: Date, at: Date = now): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    const res = await this.gate.update(_id, (c) => (selectable(c.status) ? { next_attempt_at: at, updated_at: now } : null));
    return res?.changed === true;
  }

  // Contacts waiting for the old window's opening are looked at again under a new window.
  async recheckDeferred(campaignId: string, now: Date): Promise<void> {
    const ids = await this.contacts
      .find({ campaign_id: campaignId, status: op({ $in: SELECTABLE_CONTACT_STATUSES }), last_outcome: 'deferred_calling_hours' }, { _id: 1 })
      .lean<Array<{ _id: Types.ObjectId }>>();
    for (const { _id } of ids) await this.gate.update(_id, (c) => (selectable(c.status) && c.last_outcome === 'deferred_calling_hours' ? { next_attempt_at: now, updated_at: now } : null));
  }

  async updateSelectableMany(ids: string[], set: Partial<CampaignContact>): Promise<void> {
    const objectIds = ids.map(toObjectId).filter((v): v is Types.ObjectId => v !== null);
    if (objectIds.length === 0) return;
    // One gated write per contact: a multi-document update would race the settlements and releases.
    for (const _id of objectIds) await this.gate.update(_id, (c) => (selectable(c.status) ? (set as Record<string, unknown>) : null));
  }

  // A booked release that has not been dialed goes back to waiting for the daily batch.
  async unrelease(id: string, releasedAt: Date, now: Date, waitUntil: Date): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    const res = await this.gate.update(_id, (c) => (selectable(c.status) && c.next_attempt_at?.getTime() === releasedAt.getTime() ? { next_attempt_at: waitUntil, updated_at: now } : null));
    return res?.changed === true;
  }

  async findDueWithin(campaignId: string, fromDate: string, toDate: string, limit: number, contactStatus: string | null = null): Promise<CampaignContact[]> {
    const docs = await this.contacts
      .find({
        campaign_id: campaignId,
        status: op({ $in: SELECTABLE_CONTACT_STATUSES }),
        due_date: op({ $gte: fromDate, $lte: toDate }),
        ...(contactStatus !== null ? { contact_status: contactStatus } : {}),
      })
      .sort({ due_date: 1, _id: 1 })
      .limit(limit)
      .lean<LeanContact[]>();
    return docs.map(toContact);
  }

  async ensureIndexes(): Promise<void> {
    await this.contacts.syncIndexes();
  }
}
