import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { TenantScope } from '../auth/principal';
import { toObjectId, op } from '../common/mongo/mongo-query';
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
  return { id: _id.toHexString(), ...(rest as unknown as ScheduleFields) };
}

function tenantFilter(scope: TenantScope): Record<string, unknown> {
  return scope.isAdmin ? {} : { tenant_id: scope.tenantId };
}

@Injectable()
export class ScheduleRepository {
  constructor(
    @InjectModel(CallScheduleDoc.name) private readonly schedules: Model<CallScheduleDoc>,
    @InjectModel(ActiveScheduleDoc.name) private readonly active: Model<ActiveScheduleDoc>,
  ) {}

  newId(): string {
    return new Types.ObjectId().toHexString();
  }

  async insertSchedule(id: string, fields: ScheduleFields): Promise<Schedule> {
    const created = await this.schedules.create({ _id: new Types.ObjectId(id), ...fields, deleted_at: null });
    return toSchedule(created.toObject() as LeanSchedule);
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
    const [docs, total] = await Promise.all([
      this.schedules.find(query).sort({ created_at: -1, _id: -1 }).skip(offset).limit(limit).lean<LeanSchedule[]>(),
      this.schedules.countDocuments(query),
    ]);
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
  async findDueSchedules(horizon: Date, limit: number): Promise<Array<{ id: string; next_execution: Date; job_id: string | null }>> {
    const docs = await this.schedules
      .find({ status: 'scheduled', deleted_at: null, next_execution: op({ $ne: null, $lte: horizon }) }, { _id: 1, next_execution: 1, job_id: 1 })
      .sort({ next_execution: 1 })
      .limit(limit)
      .lean<Array<{ _id: Types.ObjectId; next_execution: Date; job_id?: string | null }>>();
    return docs.map((d) => ({ id: d._id.toHexString(), next_execution: d.next_execution, job_id: d.job_id ?? null }));
  }

  async findOverdue(before: Date, limit: number): Promise<Schedule[]> {
    const docs = await this.schedules
      .find({ status: 'scheduled', deleted_at: null, next_execution: op({ $ne: null, $lt: before }) })
      .sort({ next_execution: 1 })
      .limit(limit)
      .lean<LeanSchedule[]>();
    return docs.map(toSchedule);
  }

  // ActiveSchedule mirrors the job of every live schedule; terminal schedules drop out of it.
  async syncActive(schedule: Schedule, jobId: string | null, now: Date): Promise<void> {
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
          ...(jobId ? { job_id: jobId } : {}),
        },
        $setOnInsert: { created_at: now, ...(jobId ? {} : { job_id: null }) },
      },
      { upsert: true },
    );
  }

  async listActive(scope: TenantScope, limit: number, offset: number): Promise<{ items: ActiveScheduleRecord[]; total: number }> {
    const query = tenantFilter(scope);
    const [docs, total] = await Promise.all([
      this.active.find(query).sort({ next_execution: 1, schedule_id: 1 }).skip(offset).limit(limit).lean<(ActiveScheduleDoc & { _id: unknown })[]>(),
      this.active.countDocuments(query),
    ]);
    return {
      items: docs.map(({ _id, ...rest }) => rest as ActiveScheduleRecord),
      total,
    };
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([this.schedules.syncIndexes(), this.active.syncIndexes()]);
  }
}
