import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { insertedUnlessDuplicate, op, toObjectId } from '../common/mongo/mongo-query';
import { WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { BatchEntryDoc, BatchSlotDoc, SCHEDULER_CONFIG_WRITE_GATE, SchedulerConfigDoc } from './schemas/scheduler-config.schema';
import { BatchEntry, BatchReason, SchedulerConfig, SchedulerSettings, StoredBatchEntry } from './scheduler-config.types';

type LeanEntry = BatchEntryDoc & { _id: Types.ObjectId };

export interface EntryFilter {
  day?: string;
  contact_id?: string;
  reason?: BatchReason;
}

// Entries written before reasons and bookings existed are the batch's own, released when created.
function toEntry({ _id, ...doc }: LeanEntry): StoredBatchEntry {
  return {
    id: _id.toHexString(),
    tenant_id: doc.tenant_id,
    campaign_id: doc.campaign_id,
    contact_id: doc.contact_id,
    day: doc.day,
    created_at: doc.created_at,
    reason: (doc.reason ?? 'due_date') as BatchReason,
    release_at: doc.release_at ?? doc.created_at,
    priority: doc.priority ?? 0,
    notes: doc.notes ?? null,
    cancelled_at: doc.cancelled_at ?? null,
  };
}

function toConfig({ _id, rev: _rev, ...rest }: SchedulerConfigDoc & { rev?: number | null }): SchedulerConfig {
  return { tenant_id: _id, ...rest };
}

@Injectable()
export class SchedulerConfigRepository {
  private readonly gate: WriteGate<SchedulerConfigDoc & { rev?: number | null }>;

  constructor(
    @InjectModel(SchedulerConfigDoc.name) private readonly configs: Model<SchedulerConfigDoc>,
    @InjectModel(BatchEntryDoc.name) private readonly entries: Model<BatchEntryDoc>,
    @InjectModel(BatchSlotDoc.name) private readonly slots: Model<BatchSlotDoc>,
    @InjectModel(SCHEDULER_CONFIG_WRITE_GATE) gates: Model<WriteGateDoc>,
  ) {
    this.gate = new WriteGate(configs, gates);
  }

  async findConfig(tenantId: string): Promise<SchedulerConfig | null> {
    const doc = await this.configs.findOne({ _id: tenantId }).lean<SchedulerConfigDoc>();
    if (!doc) return null;
    return toConfig(doc);
  }

  // The first save inserts the defaults (a unique insert on the tenant id, so concurrent first saves make
  // one document); every change is then merged under the gate into the config as stored, so two partial
  // updates at once keep both instead of the later overwriting the other with what it read before.
  async mergeConfig(tenantId: string, defaults: SchedulerSettings, changes: Partial<SchedulerSettings>, now: Date): Promise<SchedulerConfig> {
    await insertedUnlessDuplicate(() => this.configs.create({ _id: tenantId, ...defaults, updated_at: now }));
    const set = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
    const res = await this.gate.update(tenantId, () => ({ ...set, updated_at: now }));
    if (!res) throw new Error(`scheduler config ${tenantId} vanished while being saved`);
    return toConfig(res.doc);
  }

  async listEnabledTenants(): Promise<string[]> {
    return (await this.configs.find({ enabled: true }, { _id: 1 }).lean<Array<{ _id: string }>>()).map((d) => d._id);
  }

  // False when the contact was already released that day.
  async insertEntry(entry: BatchEntry): Promise<boolean> {
    return insertedUnlessDuplicate(() => this.entries.create(entry));
  }

  async deleteEntry(contactId: string, day: string): Promise<void> {
    await this.entries.deleteOne({ contact_id: contactId, day });
  }

  // One of the day's `cap` release slots, or null when all are taken. A count read before inserting would
  // let two concurrent runs both see room; the unique slot insert cannot.
  async takeReleaseSlot(tenantId: string, day: string, cap: number, contactId: string, now: Date): Promise<string | null> {
    for (let n = await this.slots.countDocuments({ tenant_id: tenantId, day }); n < cap; n++) {
      const _id = `${tenantId}:${day}:${n}`;
      if (await insertedUnlessDuplicate(() => this.slots.create({ _id, tenant_id: tenantId, day, contact_id: contactId, created_at: now }))) return _id;
    }
    return null;
  }

  async giveBackReleaseSlot(slotId: string): Promise<void> {
    await this.slots.deleteOne({ _id: slotId });
  }

  async countForDay(tenantId: string, day: string): Promise<number> {
    return this.entries.countDocuments({ tenant_id: tenantId, day });
  }

  async entriesForDay(tenantId: string, day: string): Promise<StoredBatchEntry[]> {
    return this.findEntries(tenantId, { day }, 100_000);
  }

  async findEntries(tenantId: string, filter: EntryFilter, limit: number): Promise<StoredBatchEntry[]> {
    const query: Record<string, unknown> = { tenant_id: tenantId };
    if (filter.day !== undefined) query.day = filter.day;
    if (filter.contact_id !== undefined) query.contact_id = filter.contact_id;
    // Entries from before reasons were stored are the batch's own.
    if (filter.reason !== undefined) query.reason = filter.reason === 'due_date' ? op({ $in: ['due_date', null] }) : filter.reason;
    const docs = await this.entries.find(query).sort({ day: -1, priority: -1, _id: -1 }).limit(limit).lean<LeanEntry[]>();
    return docs.map(toEntry);
  }

  async findEntry(tenantId: string, id: string): Promise<StoredBatchEntry | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.entries.findOne({ _id, tenant_id: tenantId }).lean<LeanEntry>();
    return doc ? toEntry(doc) : null;
  }

  // Setting the one field twice (two cancels at once) leaves a cancelled entry either way, so this needs
  // no gate: nothing else ever writes an entry after its insert.
  async markEntryCancelled(id: string, now: Date): Promise<void> {
    await this.entries.updateOne({ _id: toObjectId(id)! }, { $set: { cancelled_at: now } });
  }

  async deleteEntriesBefore(tenantId: string | null, before: Date): Promise<number> {
    const res = await this.entries.deleteMany({ ...(tenantId ? { tenant_id: tenantId } : {}), created_at: op({ $lt: before }) });
    await this.slots.deleteMany({ ...(tenantId ? { tenant_id: tenantId } : {}), created_at: op({ $lt: before }) });
    return res.deletedCount ?? 0;
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([this.configs.syncIndexes(), this.entries.syncIndexes(), this.slots.syncIndexes()]);
  }
}
