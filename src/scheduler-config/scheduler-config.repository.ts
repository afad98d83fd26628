import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { insertedUnlessDuplicate, op } from '../common/mongo/mongo-query';
import { BatchEntryDoc, SchedulerConfigDoc } from './schemas/scheduler-config.schema';
import { BatchEntry, SchedulerConfig, SchedulerSettings } from './scheduler-config.types';

@Injectable()
export class SchedulerConfigRepository {
  constructor(
    @InjectModel(SchedulerConfigDoc.name) private readonly configs: Model<SchedulerConfigDoc>,
    @InjectModel(BatchEntryDoc.name) private readonly entries: Model<BatchEntryDoc>,
  ) {}

  async findConfig(tenantId: string): Promise<SchedulerConfig | null> {
    const doc = await this.configs.findOne({ _id: tenantId }).lean<SchedulerConfigDoc>();
    if (!doc) return null;
    const { _id, ...rest } = doc;
    return { tenant_id: _id, ...rest };
  }

  async saveConfig(tenantId: string, settings: SchedulerSettings, now: Date): Promise<SchedulerConfig> {
    await this.configs.updateOne({ _id: tenantId }, { $set: { ...settings, updated_at: now } }, { upsert: true });
    return { tenant_id: tenantId, ...settings, updated_at: now };
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

  async countForDay(tenantId: string, day: string): Promise<number> {
    return this.entries.countDocuments({ tenant_id: tenantId, day });
  }

  async entriesForDay(tenantId: string, day: string): Promise<BatchEntry[]> {
    return this.entries.find({ tenant_id: tenantId, day }, { _id: 0 }).lean<BatchEntry[]>();
  }

  async deleteEntriesBefore(tenantId: string | null, before: Date): Promise<number> {
    const res = await this.entries.deleteMany({ ...(tenantId ? { tenant_id: tenantId } : {}), created_at: op({ $lt: before }) });
    return res.deletedCount ?? 0;
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([this.configs.syncIndexes(), this.entries.syncIndexes()]);
  }
}
