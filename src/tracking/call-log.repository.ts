import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { scopeFilter, TenantScope } from '../auth/principal';
import { CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { isDuplicateKeyError, toObjectId, op } from '../common/mongo/mongo-query';
import { WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { findPageWithin, QueryTimeLimit, withinTimeLimit } from '../common/mongo/query-time-limit';
import { AppConfig } from '../config/app-config';
import { advancesTo, CallStatus, FINAL_CALL_STATUSES } from './call-status';
import { CallLog, CallTimelineEntry } from './call-log.types';
import { CallStatsRepository, CountedLog, HOUR_MS, hourOf } from './call-stats.repository';
import { LogCursor } from './log-cursor';
import { CallLogDoc, CALL_LOG_WRITE_GATE } from './schemas/call-log.schema';

const BACKFILL_IN_FLIGHT = 20;
const IN_FLIGHT_STATUSES: CallStatus[] = ['queued', 'initiated', 'ringing', 'in_progress'];

type LeanLog = CallLogDoc & { _id: Types.ObjectId; rev?: number | null; in_stats?: boolean | null };

// A log counts in the hourly stats once it is marked in_stats (every log since they exist; older ones
// when the backfill reaches them).
function counted(log: LeanLog): CountedLog | null {
  return log.in_stats ? { tenant_id: log.tenant_id, timestamp: log.timestamp, status: log.status as CallStatus, duration: typeof log.duration === 'number' ? log.duration : null } : null;
}

function toLog({ _id, rev: _rev, in_stats: _inStats, hour: _hour, ...rest }: LeanLog): CallLog {
  return { id: _id.toHexString(), ...(rest as unknown as Omit<CallLog, 'id'>) };
}

const sameEntry = (a: CallTimelineEntry, b: CallTimelineEntry) => a.source === b.source && a.status === b.status && (a.sequence_number ?? null) === (b.sequence_number ?? null);

export type NewCallLog = Omit<CallLog, 'id' | 'timeline' | 'last_updated' | 'call_id' | 'provider' | 'start_time' | 'end_time' | 'duration' | 'answered_by' | 'error_code' | 'error_message'>;

export type CallLogProgress = Partial<Pick<CallLog, 'start_time' | 'end_time' | 'duration' | 'answered_by' | 'error_code' | 'error_message' | 'call_id'>>;

export interface CallLogFilter {
  status?: CallStatus;
  user_profile_id?: string;
  schedule_id?: string;
  phone?: string;
  from?: Date;
  // exclusive
  to?: Date;
}

// How many logs share one (status, duration): the FerretDB-safe input for sums and averages.
export interface CallOutcomeGroup {
  status: CallStatus;
  duration: number | null;
  count: number;
}

export interface CallOutcomeRow {
  status: CallStatus;
  duration: number | null;
  timestamp: Date;
}

function trackingQuery(scope: TenantScope, filter: CallLogFilter): Record<string, unknown> {
  const query: Record<string, unknown> = scopeFilter(scope);
  if (filter.status) query.status = filter.status;
  if (filter.user_profile_id) query.user_profile_id = filter.user_profile_id;
  if (filter.schedule_id) query.schedule_id = filter.schedule_id;
  if (filter.phone) query.phone = filter.phone;
  if (filter.from || filter.to) query.timestamp = op({ ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) });
  return query;
}

@Injectable()
export class CallLogRepository {
  // A log is written by the dispatcher, by callbacks (several at once, on several instances) and by the
  // reconcilers: every write after the insert goes through the gate, one at a time (see WriteGate).
  private readonly gate: WriteGate<LeanLog>;
  // Every dial creates its log: a burst's logs share one insertMany.
  private readonly inserts: CoalescedInserts<CallLogDoc>;

  constructor(
    @InjectModel(CallLogDoc.name) private readonly logs: Model<CallLogDoc>,
    @InjectModel(CALL_LOG_WRITE_GATE) gates: Model<WriteGateDoc>,
    private readonly config: AppConfig,
    private readonly stats: CallStatsRepository,
  ) {
    // The stats change of each revision is stored before the revision itself: a crash in between leaves a
    // change whose write the gate's next writer finishes (see WriteGate), never a write the stats miss.
    this.inserts = new CoalescedInserts(logs);
    this.gate = new WriteGate<LeanLog>(logs, gates, undefined, {
      beforeWrite: (before, after, rev) => this.stats.recordChange(`${String(before._id)}:${rev}`, counted(before), counted(after)),
    });
  }

  newId(): string {
    return new Types.ObjectId().toHexString();
  }

  // One log per attempt, written before the provider is called so the attempt is visible at once. Its id
  // was chosen when the attempt was claimed (the claim names its log): a repeat of an insert whose reply
  // was lost finds the log already there and returns it.
  async createForAttempt(id: string, fields: NewCallLog, now: Date): Promise<CallLog> {
    // Counted before it is stored: a repeat of the insert repeats the same change, which is refused.
    await this.stats.recordChange(`${id}:c`, null, { tenant_id: fields.tenant_id, timestamp: fields.timestamp, status: fields.status, duration: null });
    try {
      const doc = await this.inserts.insert<LeanLog>({
        _id: new Types.ObjectId(id),
        ...fields,
        in_stats: true,
        hour: hourOf(fields.timestamp),
        timeline: [{ status: fields.status, ts: now, received_at: now, sequence_number: null, source: 'dispatcher', provider_status: null }],
        last_updated: now,
      });
      return toLog(this.gate.remember(doc));
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const existing = await this.findById(id);
      if (!existing) throw error;
      return existing;
    }
  }

  async findById(id: string): Promise<CallLog | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.logs.findById(_id).lean<LeanLog>();
    return doc ? toLog(this.gate.remember(doc)) : null;
  }

  // The copy this process last read or wrote, if recent (WriteGate.recall), without a database read. It may
  // be stale (another instance's write): only a write through the gate proves it current.
  recalled(id: string): CallLog | null {
    const _id = toObjectId(id);
    const doc = _id ? this.gate.recall(_id) : null;
    return doc ? toLog(doc) : null;
  }

  // Calls a provider accepted that are still not final: the periodic reconcile asks the provider.
  async findStaleInFlight(lastUpdatedBefore: Date, limit: number): Promise<CallLog[]> {
    const docs = await this.logs
      .find({ status: op({ $in: IN_FLIGHT_STATUSES }), call_id: op({ $ne: null }), last_updated: op({ $lt: lastUpdatedBefore }) })
      .sort({ last_updated: 1 })
      .limit(limit)
      .lean<LeanLog[]>();
    return docs.map(toLog);
  }

  // A status callback can attach a call to its own log before a lookup asks: only another log's call is
  // someone else's.
  async belongsToAnotherLog(callId: string, logId: string): Promise<boolean> {
    const owner = await this.findByCallId(callId);
    return owner !== null && owner.id !== logId;
  }

  async findByCallId(callId: string): Promise<CallLog | null> {
    const doc = await this.logs.findOne({ call_id: callId }).lean<LeanLog>();
    return doc ? toLog(doc) : null;
  }

  async findForSchedule(scheduleId: string): Promise<CallLog[]> {
    const docs = await this.logs.find({ schedule_id: scheduleId }).sort({ attempt_number: 1, timestamp: 1 }).lean<LeanLog[]>();
    return docs.map(toLog);
  }

  // The latest call log (by attempt, then time) of each schedule, in one query: on FerretDB every
  // non-_id filter reads the whole collection, so one query per schedule would read it once per schedule.
  async latestForSchedules(scheduleIds: string[]): Promise<Map<string, CallLog>> {
    const latest = new Map<string, CallLog>();
    if (scheduleIds.length === 0) return latest;
    const docs = await this.logs
      .find({ schedule_id: op({ $in: [...new Set(scheduleIds)] }) })
      .sort({ attempt_number: 1, timestamp: 1 })
      .lean<LeanLog[]>();
    for (const log of docs.map(toLog)) if (log.schedule_id) latest.set(log.schedule_id, log);
    return latest;
  }

  async attachProviderCall(id: string, provider: string, callId: string, now: Date): Promise<void> {
    const entry: CallTimelineEntry = { status: 'queued', ts: now, received_at: now, sequence_number: null, source: 'provider_accepted', provider_status: null };
    await this.gate.update(new Types.ObjectId(id), (log) => ({
      provider,
      call_id: callId,
      last_updated: now,
      timeline: log.timeline.some((e) => sameEntry(e as CallTimelineEntry, entry)) ? log.timeline : [...log.timeline, entry],
    }));
  }

  // Repeatable: a log already in this status is left as it is (no second timeline entry). `onlyFrom`: a
  // log in any other status is left too (its call's own reports moved it on). Returns whether the log
  // reads `status` now.
  async markAttemptEnded(id: string, status: CallStatus, fields: CallLogProgress & { provider?: string | null }, now: Date, onlyFrom?: CallStatus[]): Promise<boolean> {
    const entry: CallTimelineEntry = { status, ts: now, received_at: now, sequence_number: null, source: 'dispatcher', provider_status: null };
    let reads = false;
    await this.gate.update(new Types.ObjectId(id), (log) => {
      reads = log.status === status || !onlyFrom || onlyFrom.includes(log.status as CallStatus);
      return log.status === status || !reads ? null : { ...fields, status, last_updated: now, timeline: [...log.timeline, entry] };
    });
    return reads;
  }

  // Appends the event to the timeline and moves the status forward only: returns whether it moved.
  // Safe under concurrency: the gate serialises the writes of one log, and each is computed from the log as
  // the previous one left it, so concurrent callbacks neither drop each other's timeline entries nor move
  // the status backwards. An entry already in the timeline (same source, status, sequence) is not repeated.
  async applyStatusEvent(id: string, entry: CallTimelineEntry, progress: CallLogProgress, now: Date): Promise<boolean> {
    let moved = false;
    await this.gate.update(new Types.ObjectId(id), (log) => {
      moved = false;
      if (log.timeline.some((e) => sameEntry(e as CallTimelineEntry, entry))) return null;
      const timeline = [...log.timeline, entry];
      if (advancesTo(log.status as CallStatus, entry.status)) {
        moved = true;
        return { ...progress, status: entry.status, last_updated: now, timeline };
      }
      const late: Record<string, unknown> = { last_updated: now, timeline };
      // A late event still contributes facts the final one lacked (e.g. start time from in-progress).
      for (const [k, v] of Object.entries(progress)) if (v !== null && v !== undefined && k !== 'end_time') late[k] = v;
      return late;
    });
    return moved;
  }

  async markOutcomeRecorded(id: string, now: Date): Promise<void> {
    await this.gate.update(new Types.ObjectId(id), () => ({ outcome_recorded_at: now }));
  }

  // Tenant scoping lives here: a non-admin's query always carries its tenant.
  // Newest first. `after`: keyset paging, the logs strictly after that position in this order (on MongoDB an
  // index range on {tenant_id, timestamp}, where an offset reads and skips every earlier log); the total
  // counts the whole filter either way.
  async listForTenant(scope: TenantScope, filter: CallLogFilter, limit: number, offset: number, after: LogCursor | null = null): Promise<{ items: CallLog[]; total: number }> {
    const query = trackingQuery(scope, filter);
    const page = after ? { ...query, $or: [{ timestamp: op({ $lt: after.timestamp }) }, { timestamp: after.timestamp, _id: op({ $lt: after.id }) }] } : query;
    const [docs, total] = await findPageWithin<CallLogDoc, LeanLog>(this.logs, page, { timestamp: -1, _id: -1 }, { offset, limit }, this.config.apiQueryMaxTimeMs, query);
    return { items: docs.map(toLog), total };
  }

  // One UTC hour's logs, newest first (see TrackingService.listLogs). `hour` is an equality the stand-in
  // database filters on before anything reaches the service; the timestamp bounds are the same hour, for an
  // index on {tenant_id, timestamp}.
  async listInHour(scope: TenantScope, hour: Date, status: CallStatus | undefined, after: LogCursor | null, skip: number, limit: number): Promise<CallLog[]> {
    const query: Record<string, unknown> = { ...scopeFilter(scope), hour, timestamp: op({ $gte: hour, $lt: new Date(hour.getTime() + HOUR_MS) }) };
    if (status) query.status = status;
    if (after) query.$or = [{ timestamp: op({ $lt: after.timestamp }) }, { timestamp: after.timestamp, _id: op({ $lt: after.id }) }];
    const docs = await withinTimeLimit(this.config.apiQueryMaxTimeMs, (limitMs) =>
      this.logs.find(query).sort({ timestamp: -1, _id: -1 }).skip(skip).limit(limit).setOptions(limitMs.options).lean<LeanLog[]>().exec(),
    );
    return docs.map(toLog);
  }

  // Counts per (status, duration) instead of $sum over durations, which FerretDB answers with 0.
  async countOutcomes(scope: TenantScope, filter: CallLogFilter): Promise<CallOutcomeGroup[]> {
    const limitMs = this.config.apiQueryMaxTimeMs;
    const groups = await withinTimeLimit(limitMs, (limit) =>
      this.logs
        .aggregate<{ _id: { status: CallStatus; duration?: number | null }; count: number }>([
          { $match: trackingQuery(scope, filter) },
          { $group: { _id: { status: '$status', duration: '$duration' }, count: { $sum: 1 } } },
        ])
        .option(limit.options)
        .exec(),
    );
    return groups.map((g) => ({ status: g._id.status, duration: typeof g._id.duration === 'number' ? g._id.duration : null, count: g.count }));
  }

  // One small row per log, streamed: the input for per-day buckets, which FerretDB cannot $group by.
  async *streamOutcomes(scope: TenantScope, filter: CallLogFilter): AsyncGenerator<CallOutcomeRow> {
    // One limit for the whole stream: the stats read as a whole answers within it.
    const limit = new QueryTimeLimit(this.config.apiQueryMaxTimeMs);
    const cursor = this.logs.find(trackingQuery(scope, filter), { status: 1, duration: 1, timestamp: 1, _id: 0 }).setOptions(limit.options).lean<CallOutcomeRow>().cursor({ batchSize: 1000 });
    const rows = cursor[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await limit.run(() => rows.next());
        if (next.done) return;
        const row = next.value;
        yield { status: row.status, duration: typeof row.duration === 'number' ? row.duration : null, timestamp: row.timestamp };
      }
    } finally {
      limit.finish();
    }
  }

  // Counts up to `limit` logs stored before the hourly stats existed into them (one gated write each: its
  // stats change is the whole log). Returns how many it found.
  // A few at a time, so their stats changes share inserts; each starts from the copy just read (a copy
  // that went stale since loses its gate and reads again).
  async countOlderLogsInStats(limit: number): Promise<number> {
    const docs = await this.logs.find({ in_stats: op({ $ne: true }) }).limit(limit).lean<LeanLog[]>();
    for (let i = 0; i < docs.length; i += BACKFILL_IN_FLIGHT) {
      await Promise.all(docs.slice(i, i + BACKFILL_IN_FLIGHT).map((doc) => this.gate.update(this.gate.remember(doc)._id, (log) => (log.in_stats ? null : { in_stats: true, hour: hourOf(log.timestamp) }))));
    }
    return docs.length;
  }

  async ensureIndexes(): Promise<void> {
    await this.logs.syncIndexes();
  }

  // Dials whose outcome is unknown (a timeout or crash after the request may have left), with no callback since.
  async findUnknownWithoutOutcome(lastUpdatedBefore: Date, limit: number): Promise<CallLog[]> {
    const docs = await this.logs
      .find({ status: 'unknown', outcome_recorded_at: null, last_updated: op({ $lt: lastUpdatedBefore }), schedule_id: op({ $ne: null }) })
      .sort({ last_updated: 1 })
      .limit(limit)
      .lean<LeanLog[]>();
    return docs.map(toLog);
  }

  // Final calls of schedules whose outcome was never recorded (a callback cut off between the log write
  // and the schedule update); oldest first, so a batch that keeps failing does not starve the rest.
  async findFinalWithoutOutcome(lastUpdatedBefore: Date, limit: number): Promise<CallLog[]> {
    const docs = await this.logs
      .find({
        status: op({ $in: FINAL_CALL_STATUSES }),
        outcome_recorded_at: null,
        last_updated: op({ $lt: lastUpdatedBefore }),
        schedule_id: op({ $ne: null }),
      })
      .sort({ last_updated: 1 })
      .limit(limit)
      .lean<LeanLog[]>();
    return docs.map(toLog);
  }
}
