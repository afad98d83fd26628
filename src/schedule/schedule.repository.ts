import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { TenantScope } from '../auth/principal';
import { toObjectId, op } from '../common/mongo/mongo-query';
import { findPageWithin } from '../common/mongo/query-time-limit';
import { duplicatesOnly, writeErrorsOf } from '../common/mongo/write-errors';
import { AppConfig } from '../config/app-config';
import { ActiveScheduleDoc } from './schemas/active-schedule.schema';
import { CallScheduleDoc } from './schemas/call-schedule.schema';
import { ActiveScheduleRecord, Schedule, ScheduleStatus } from './schedule.types';

type ScheduleFields = Omit<Schedule, 'id'>;
type LeanSchedule = CallScheduleDoc & { _id: Types.ObjectId };

export interface ScheduleListFilter {
  status?: ScheduleStatus;
  phone?: string;
  from?: Date;
  to?: Date;
}

function toSchedule(doc: LeanSchedule): Schedule {
  const { _id, deleted_at: _deleted, ...rest } = doc;
  const fields = rest as unknown as ScheduleFields;
  // Schedules stored before calling rules existed follow the default rules.
  return {
    id: _id.toHexString(),
    ...fields,
    respect_calling_hours: fields.respect_calling_hours ?? true,
    callee_timezone: fields.callee_timezone ?? null,
    calling_window: fields.calling_window ?? null,
    campaign_id: fields.campaign_id ?? null,
    campaign_contact_id: fields.campaign_contact_id ?? null,
  };
}

function tenantFilter(scope: TenantScope): Record<string, unknown> {
  return scope.isAdmin ? {} : { tenant_id: scope.tenantId };
}

@Injectable()
export class ScheduleRepository {
  constructor(
    @InjectModel(CallScheduleDoc.name) private readonly schedules: Model<CallScheduleDoc>,
    @InjectModel(ActiveScheduleDoc.name) private readonly active: Model<ActiveScheduleDoc>,
    private readonly config: AppConfig,
  ) {}

  newId(): string {
    return new Types.ObjectId().toHexString();
  }

  async insertSchedule(id: string, fields: ScheduleFields): Promise<Schedule> {
    const created = await this.schedules.create({ _id: new Types.ObjectId(id), ...fields, deleted_at: null });
    return toSchedule(created.toObject() as LeanSchedule);
  }

  // One unordered write for many schedules; ids that already exist come back as duplicates (a replay).
  async insertMany(items: Array<{ id: string; fields: ScheduleFields }>): Promise<{ duplicateIds: Set<string> }> {
    const duplicateIds = new Set<string>();
    if (items.length === 0) return { duplicateIds };
    try {
      await this.schedules.collection.insertMany(
        items.map(({ id, fields }) => ({ _id: new Types.ObjectId(id), ...fields, deleted_at: null })),
        { ordered: false },
      );
    } catch (error) {
      const failures = writeErrorsOf(error);
      if (failures.length === 0 || failures.some((f) => f.code !== 11000)) throw error;
      for (const f of failures) duplicateIds.add(items[f.index].id);
    }
    return { duplicateIds };
  }

  // The mirror records of freshly created schedules; one that exists already is left as it is.
  async insertActiveMany(schedules: Schedule[], now: Date): Promise<void> {
    if (schedules.length === 0) return;
    try {
      await this.active.collection.insertMany(
        schedules.map((s) => ({
          _id: new Types.ObjectId(s.id),
          schedule_id: s.id,
          tenant_id: s.tenant_id,
          job_id: s.job_id,
          next_execution: s.next_execution,
          status: s.status,
          created_at: now,
          last_updated: now,
        })),
        { ordered: false },
      );
    } catch (error) {
      if (duplicatesOnly(error) === null) throw error;
    }
  }

  async findById(id: string): Promise<Schedule | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.schedules.findOne({ _id, deleted_at: null }).lean<LeanSchedule>();
    return doc ? toSchedule(doc) : null;
  }

  // Tenant scoping lives here, not in controllers: a non-admin can never load another tenant's record.
  async findForTenant(id: string, scope: TenantScope): Promise<Schedule | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.schedules.findOne({ _id, deleted_at: null, ...tenantFilter(scope) }).lean<LeanSchedule>();
    return doc ? toSchedule(doc) : null;
  }

  async listForTenant(scope: TenantScope, filter: ScheduleListFilter, limit: number, offset: number): Promise<{ items: Schedule[]; total: number }> {
    const query: Record<string, unknown> = { deleted_at: null, ...tenantFilter(scope) };
    if (filter.status) query.status = filter.status;
    if (filter.phone) query.phone = filter.phone;
    if (filter.from || filter.to) {
      query.scheduled_time = op({ ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) });
    }
    const [docs, total] = await findPageWithin<CallScheduleDoc, LeanSchedule>(this.schedules, query, { created_at: -1, _id: -1 }, { offset, limit }, this.config.apiQueryMaxTimeMs);
    return { items: docs.map(toSchedule), total };
  }

  // Optimistic write: applies only if nobody changed the schedule since `version` was read.
  async updateIfVersion(id: string, version: number, fromStatuses: ScheduleStatus[], set: Partial<ScheduleFields>): Promise<Schedule | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const res = await this.schedules.updateOne(
      { _id, version, status: op({ $in: fromStatuses }), deleted_at: null },
      { $set: { ...set, version: version + 1 } },
    );
    if (res.modifiedCount !== 1) return null;
    return this.findById(id);
  }

  // The dispatcher's step after winning a claim: moves next_execution from the claimed occurrence on.
  // It does not bump the version: only definition changes do, and they must make this update miss.
  async advanceOccurrence(id: string, version: number, occurrenceAt: Date, set: Partial<ScheduleFields>, occurrencesUsed: number): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    const res = await this.schedules.updateOne(
      { _id, version, status: 'scheduled', next_execution: occurrenceAt, deleted_at: null },
      { $set: set, $inc: { occurrence_count: occurrencesUsed } },
    );
    return res.modifiedCount === 1;
  }

  async recordCallProgress(id: string, onlyIfStatusIn: ScheduleStatus[] | null, set: Partial<ScheduleFields>): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    const filter: Record<string, unknown> = { _id, deleted_at: null };
    if (onlyIfStatusIn) filter.status = op({ $in: onlyIfStatusIn });
    const res = await this.schedules.updateOne(filter, { $set: set });
    return res.modifiedCount === 1;
  }

  async softDelete(id: string, version: number, fromStatuses: ScheduleStatus[], now: Date): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    const res = await this.schedules.updateOne({ _id, version, status: op({ $in: fromStatuses }), deleted_at: null }, { $set: { deleted_at: now, last_updated: now, version: version + 1 } });
    return res.modifiedCount === 1;
  }

  // The sweeper's batch read: every schedule due by `horizon`, in due order, as ids and times only.
  async findDueSchedules(horizon: Date, limit: number): Promise<Array<{ id: string; next_execution: Date }>> {
    const docs = await this.schedules
      .find({ status: 'scheduled', deleted_at: null, next_execution: op({ $ne: null, $lte: horizon }) }, { _id: 1, next_execution: 1 })
      .sort({ next_execution: 1 })
      .limit(limit)
      .lean<Array<{ _id: Types.ObjectId; next_execution: Date }>>();
    return docs.map((d) => ({ id: d._id.toHexString(), next_execution: d.next_execution }));
  }

  // ActiveSchedule mirrors every live schedule; terminal schedules drop out of it. Its job_id, kept for
  // the API's shape, is null: schedules have no Agenda job of their own (see DispatchTrigger).
  async syncActive(schedule: Schedule, now: Date): Promise<void> {
    const live: ScheduleStatus[] = ['scheduled', 'paused', 'pending', 'running'];
    if (!live.includes(schedule.status)) {
      await this.active.deleteOne({ _id: new Types.ObjectId(schedule.id) });
      return;
    }
    await this.active.updateOne(
      { _id: new Types.ObjectId(schedule.id) },
      {
        $set: {
          schedule_id: schedule.id,
          tenant_id: schedule.tenant_id,
          next_execution: schedule.next_execution,
          status: schedule.status,
          last_updated: now,
          job_id: null,
        },
        $setOnInsert: { created_at: now },
      },
      { upsert: true },
    );
  }

  async listActive(scope: TenantScope, limit: number, offset: number): Promise<{ items: ActiveScheduleRecord[]; total: number }> {
    const query = tenantFilter(scope);
    const [docs, total] = await findPageWithin<ActiveScheduleDoc, ActiveScheduleDoc & { _id: unknown }>(
      this.active,
      query,
      { next_execution: 1, schedule_id: 1 },
      { offset, limit },
      this.config.apiQueryMaxTimeMs,
    );
    return {
      items: docs.map(({ _id, ...rest }) => rest as ActiveScheduleRecord),
      total,
    };
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([this.schedules.syncIndexes(), this.active.syncIndexes()]);
  }

  // One-time schedules still running, in id pages (the {status, next_execution} index narrows to the
  // few in-flight ones): the outcome sweep checks each against its latest call.
  async findRunningOneTime(afterId: string | null, limit: number): Promise<Schedule[]> {
    const after = afterId ? toObjectId(afterId) : null;
    const docs = await this.schedules
      .find({ status: 'running', deleted_at: null, repeat_config: null, ...(after ? { _id: op({ $gt: after }) } : {}) })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<LeanSchedule[]>();
    return docs.map(toSchedule);
  }
}
