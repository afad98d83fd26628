import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { scopeFilter, TenantScope } from '../auth/principal';
import { nullFiller, withoutNulls } from '../common/mongo/absent-nulls';
import { CoalescedInserts, insertEach } from '../common/mongo/coalesced-inserts';
import { insertedUnlessDuplicate, isDuplicateKeyError, toObjectId, op } from '../common/mongo/mongo-query';
import { GatedWrite, WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { findPageWithin, QueryTimeLimit, withinTimeLimit } from '../common/mongo/query-time-limit';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { advancesTo, CallStatus, FINAL_CALL_STATUSES, isFinalCallStatus } from './call-status';
import { CallLog, CallTimelineEntry } from './call-log.types';
import { CallStatsRepository, CountedLog, HOUR_MS, hourOf } from './call-stats.repository';
import { LogCursor } from './log-cursor';
import { CALL_LOG_ARCHIVE, CALL_LOG_ARCHIVE_WRITE_GATE, CallLogArchiveStateDoc, CallLogDoc, CallLogSchema, CALL_LOG_WRITE_GATE, PlacedCallDoc } from './schemas/call-log.schema';

const BACKFILL_IN_FLIGHT = 20;
const IN_FLIGHT_STATUSES: CallStatus[] = ['queued', 'initiated', 'ringing', 'in_progress'];
const SETTLED_STATUSES: CallStatus[] = [...FINAL_CALL_STATUSES, 'unknown'];

type LeanLog = CallLogDoc & { _id: Types.ObjectId; rev?: number | null; in_stats?: boolean | null; archived_at?: Date | null };

// A log counts in the hourly stats once it is marked in_stats (every log since they exist; older ones
// when the backfill reaches them).
function counted(log: LeanLog): CountedLog | null {
  return log.in_stats ? { tenant_id: log.tenant_id, timestamp: log.timestamp, status: log.status as CallStatus, duration: typeof log.duration === 'number' ? log.duration : null } : null;
}

// Stored with its top-level nulls absent, in both collections (absent-nulls.ts): a read fills them back.
// A timeline entry keeps its nulls.
const fillNulls = nullFiller<LeanLog>(CallLogSchema);

function toLog(doc: LeanLog): CallLog {
  const { _id, rev: _rev, in_stats: _inStats, hour: _hour, archived_at: _archivedAt, ...rest } = fillNulls(doc);
  return { id: _id.toHexString(), ...(rest as unknown as Omit<CallLog, 'id'>) };
}

// Newest first, ties by id (the listing's order).
const NEWEST_FIRST = { timestamp: -1, _id: -1 } as const;
// An hour of logs may hold archived ones when it starts before the archive's cutoff plus this margin (a log's
// timestamp is its creation, never after its last update; the margin covers clocks of other instances).
const ARCHIVE_CUTOFF_MARGIN_MS = HOUR_MS;
const CUTOFF_REREAD_MS = 60_000;
const ARCHIVE_STATE_ID = 'archive';

function newerFirst(a: LeanLog, b: LeanLog): number {
  const t = b.timestamp.getTime() - a.timestamp.getTime();
  return t !== 0 ? t : String(b._id) < String(a._id) ? -1 : String(b._id) > String(a._id) ? 1 : 0;
}

// Logs from both collections as one list in `order`, each once: a log being archived is in both for a
// moment. The archived copy continues the hot log's revisions, so the higher revision is the newer; on a tie
// the archived copy was written since the hot log froze (see write()).
function merged(hot: LeanLog[], archived: LeanLog[], order: (a: LeanLog, b: LeanLog) => number): LeanLog[] {
  const hotById = new Map(hot.map((d) => [String(d._id), d]));
  const both = archived.map((a) => {
    const h = hotById.get(String(a._id));
    hotById.delete(String(a._id));
    return h && (h.rev ?? 0) > (a.rev ?? 0) ? h : a;
  });
  return [...both, ...hotById.values()].sort(order);
}

type PageRead = (model: Model<CallLogDoc>, skip: number, limit: number) => Promise<LeanLog[]>;

const byAttempt = (a: LeanLog, b: LeanLog) => a.attempt_number - b.attempt_number || a.timestamp.getTime() - b.timestamp.getTime();

type LogChange = (log: LeanLog) => Record<string, unknown> | null;

const sameEntry = (a: CallTimelineEntry, b: CallTimelineEntry) => a.source === b.source && a.status === b.status && (a.sequence_number ?? null) === (b.sequence_number ?? null);

// A call a provider accepted for a log (PlacedCallDoc), not yet written into the log.
interface PlacedCall {
  call_id: string;
  provider: string;
  at: Date;
}

// Records of placed calls are kept at least this long: far past any call's end (a seat is held 4 h at most),
// by which its reports, or call.reconcile's lookup, have written nearly every log that waited for one. Longer
// when the reconcilers are set to wait longer (see keepPlacedCallsMs).
const MIN_KEEP_PLACED_CALLS_MS = 2 * 24 * HOUR_MS;
const PRUNE_PLACED_CALLS_EVERY_MS = HOUR_MS;
// This process's own placed calls, for the reports that come back to it: a bound, not a cache policy.
const MAX_PLACED_HERE = 20_000;
// call.reconcile's read of queued logs whose placed call may not be written into them yet.
const MAX_WAITING_READ = 5_000;
// A lookup of more logs of one hour than this reads the hour's records whole: FerretDB tests each record
// against every id of an $in.
const MAX_IDS_PER_LOOKUP = 100;

type PlacedCallRecord = PlacedCall & { _id: Types.ObjectId };
const placedCallOf = (r: PlacedCallRecord): PlacedCall => ({ call_id: r.call_id, provider: r.provider, at: r.at });

// The hour a log is kept under (its stored `hour`, or one derived from its time for logs stored before it).
const hourOfLog = (log: Pick<LeanLog, 'hour' | 'timestamp'>): Date => log.hour ?? hourOf(log.timestamp);

const acceptedEntry = (at: Date): CallTimelineEntry => ({ status: 'queued', ts: at, received_at: at, sequence_number: null, source: 'provider_accepted', provider_status: null });

// What a placed call adds to its log, as the update it replaces wrote it: the provider, the call id (unless
// a report of the call wrote it first), the provider's acceptance in the timeline, and the later of the
// log's last update and that acceptance as its last update (call.reconcile counts a call's staleness from it).
function placedCallFields(log: LeanLog, placed: PlacedCall): Pick<LeanLog, 'provider' | 'call_id' | 'timeline' | 'last_updated'> {
  const entry = acceptedEntry(placed.at);
  return {
    provider: placed.provider,
    call_id: log.call_id ?? placed.call_id,
    timeline: log.timeline.some((e) => sameEntry(e as CallTimelineEntry, entry)) ? log.timeline : [...log.timeline, entry],
    last_updated: placed.at.getTime() > log.last_updated.getTime() ? placed.at : log.last_updated,
  };
}

// The log as its next write will leave it, when a placed call waits for it.
function withPlacedCall(log: LeanLog, placed: PlacedCall | undefined): LeanLog {
  return placed ? { ...log, ...placedCallFields(log, placed) } : log;
}

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
  // Settled logs move to the archive (archiveSettled), so the collection every dial and callback writes
  // holds about a day of calls: on the stand-in database each update, and each read of it, scans it whole.
  // A late write of an archived log (a callback days after its call) goes to the archive, through its gate.
  private readonly archivedGate: WriteGate<LeanLog>;
  private usedCutoff: { before: Date | null; readAt: number } = { before: null, readAt: 0 };
  // Every dial creates its log: a burst's logs share one insertMany.
  private readonly inserts: CoalescedInserts<CallLogDoc>;
  // And records its placed call: a burst's records share one insertMany too.
  private readonly placedInserts: CoalescedInserts<PlacedCallDoc>;
  private readonly placedHere = new Map<string, PlacedCall>();
  private lastPlacedPrune = 0;
  private readonly keepPlacedCallsMs: number;
  // A log older than this has no record left to wait for (a day's margin for the wait before its dial).
  private readonly placedLookupAgeMs: number;

  constructor(
    @InjectModel(CallLogDoc.name) private readonly logs: Model<CallLogDoc>,
    @InjectModel(CALL_LOG_WRITE_GATE) gates: Model<WriteGateDoc>,
    @InjectModel(CALL_LOG_ARCHIVE) private readonly archive: Model<CallLogDoc>,
    @InjectModel(CALL_LOG_ARCHIVE_WRITE_GATE) archiveGates: Model<WriteGateDoc>,
    @InjectModel(CallLogArchiveStateDoc.name) private readonly archiveState: Model<CallLogArchiveStateDoc>,
    @InjectModel(PlacedCallDoc.name) private readonly placedCalls: Model<PlacedCallDoc>,
    private readonly config: AppConfig,
    private readonly stats: CallStatsRepository,
    private readonly clock: Clock,
  ) {
    // The stats change of each revision is stored before the revision itself: a crash in between leaves a
    // change whose write the gate's next writer finishes (see WriteGate), never a write the stats miss.
    this.inserts = new CoalescedInserts(logs, { nullsAbsent: true });
    this.placedInserts = new CoalescedInserts(placedCalls);
    // Until the later of the two reconcilers that look a call up has had its turn, and a day more.
    this.keepPlacedCallsMs = Math.max(MIN_KEEP_PLACED_CALLS_MS, (Math.max(config.callReconcileAfterMinutes, config.callUnknownSettleAfterMinutes) * 60_000) + 24 * HOUR_MS);
    this.placedLookupAgeMs = this.keepPlacedCallsMs + 24 * HOUR_MS;
    this.gate = new WriteGate<LeanLog>(
      logs,
      gates,
      undefined,
      { beforeWrite: (before, after, rev) => this.stats.recordChange(`${String(before._id)}:${rev}`, counted(before), counted(after)) },
      { nullsAbsent: true },
    );
    // An archived log's revisions count under keys of their own: they continue from the hot log's last
    // revision, and one of those may have been a freeze (see archiveSettled) that changed nothing.
    this.archivedGate = new WriteGate<LeanLog>(
      archive,
      archiveGates,
      undefined,
      { beforeWrite: (before, after, rev) => this.stats.recordChange(`${String(before._id)}:a${rev}`, counted(before), counted(after)) },
      { nullsAbsent: true },
    );
  }

  // Every write of a log after its insert, where the log is: the hot copy while it is there and not frozen
  // for its move, else the archived one.
  // A log that waits for its placed call takes it with this write (see recordPlacedCall).
  private async write(id: string, ownChange: LogChange): Promise<GatedWrite<LeanLog> | null> {
    const _id = new Types.ObjectId(id);
    const change = async (log: LeanLog): Promise<Record<string, unknown> | null> => {
      const placed = this.awaitsPlacedCall(log) ? (await this.placedCallsOf([log])).get(id) : undefined;
      if (!placed) return ownChange(log);
      const fields = placedCallFields(log, placed);
      return { ...fields, ...(ownChange({ ...log, ...fields }) ?? {}) };
    };
    let frozen: LeanLog | null = null;
    let followed = false;
    const follow = async () => {
      followed = true;
      // Frozen and still here: its pass stopped before the copy, or has not made it yet. The copy is made
      // from the frozen log, which nothing writes any more; one already there is as new or newer.
      if (frozen) await insertedUnlessDuplicate(() => this.archive.collection.insertOne(withoutNulls(frozen as LeanLog) as never));
      return this.archivedGate.update(_id, change);
    };
    const hot = await this.gate.update(
      _id,
      (log) => {
        frozen = log.archived_at ? log : null;
        return frozen ? null : change(log);
      },
      follow,
    );
    return frozen && !followed ? follow() : hot;
  }

  // The hot copy if there is one, else the archived one, each remembered by its own gate.
  // A frozen hot copy only until its archived copy exists.
  private async findAnywhere(filter: Record<string, unknown>): Promise<LeanLog | null> {
    const hot = await this.logs.findOne(filter).lean<LeanLog>();
    if (hot && !hot.archived_at) return this.gate.remember(hot);
    const archived = await this.archive.findOne(filter).lean<LeanLog>();
    if (archived) return this.archivedGate.remember(archived);
    return hot ? this.gate.remember(hot) : null;
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
    const doc = await this.findAnywhere({ _id });
    return doc ? toLog((await this.withPlacedCalls([doc]))[0]) : null;
  }

  // The copy this process last read or wrote, if recent (WriteGate.recall), without a database read. It may
  // be stale (another instance's write): only a write through the gate proves it current.
  recalled(id: string): CallLog | null {
    const _id = toObjectId(id);
    const doc = _id ? (this.archivedGate.recall(_id) ?? this.gate.recall(_id)) : null;
    if (!doc) return null;
    return toLog(withPlacedCall(doc, this.awaitsPlacedCall(doc) ? this.placedHere.get(id) : undefined));
  }

  // Calls a provider accepted that are still not final: the periodic reconcile asks the provider.
  // A log whose placed call no write has taken yet counts too: those are queued logs without a provider,
  // read apart and up to MAX_WAITING_READ of them, so that calls still waiting for a pacing slot or a seat
  // do not take the places of calls a provider accepted.
  async findStaleInFlight(lastUpdatedBefore: Date, limit: number): Promise<CallLog[]> {
    const [written, waiting] = await Promise.all([
      this.logs
        .find({ status: op({ $in: IN_FLIGHT_STATUSES }), call_id: op({ $ne: null }), last_updated: op({ $lt: lastUpdatedBefore }) })
        .sort({ last_updated: 1 })
        .limit(limit)
        .lean<LeanLog[]>(),
      this.logs
        .find({ status: 'queued', provider: null, last_updated: op({ $lt: lastUpdatedBefore }), timestamp: op({ $gte: new Date(this.clock.now().getTime() - this.placedLookupAgeMs) }) })
        .sort({ last_updated: 1 })
        .limit(MAX_WAITING_READ)
        .lean<LeanLog[]>(),
    ]);
    // A report may have written the call's id before the dial recorded the call: such a log is in both reads,
    // and takes its provider from the record either way.
    const byId = new Map([...waiting, ...written].map((d) => [String(d._id), d]));
    // Stale from the call's acceptance on, as the log reads once it takes the call in.
    const filled = (await this.withPlacedCalls([...byId.values()])).filter((d) => d.call_id && d.last_updated.getTime() < lastUpdatedBefore.getTime());
    return filled
      .sort((a, b) => a.last_updated.getTime() - b.last_updated.getTime())
      .slice(0, limit)
      .map(toLog);
  }

  // A status callback can attach a call to its own log before a lookup asks: only another log's call is
  // someone else's.
  async belongsToAnotherLog(callId: string, logId: string): Promise<boolean> {
    const owner = await this.findByCallId(callId);
    return owner !== null && owner.id !== logId;
  }

  // The log that names the call, or whose placed call it is.
  async findByCallId(callId: string): Promise<CallLog | null> {
    const doc = await this.findAnywhere({ call_id: callId });
    if (doc) return toLog((await this.withPlacedCalls([doc]))[0]);
    const record = await this.placedCalls.findOne({ call_id: callId }).lean<PlacedCallRecord>();
    if (!record) return null;
    this.keepPlacedHere(String(record._id), placedCallOf(record));
    return this.findById(String(record._id));
  }

  async findForSchedule(scheduleId: string): Promise<CallLog[]> {
    return (await this.withPlacedCalls(await this.findEverywhere({ schedule_id: scheduleId }))).map(toLog);
  }

  // A schedule's attempts in order, from both collections.
  private async findEverywhere(filter: Record<string, unknown>): Promise<LeanLog[]> {
    const [hot, archived] = await Promise.all([this.logs.find(filter).lean<LeanLog[]>(), this.archive.find(filter).lean<LeanLog[]>()]);
    return merged(hot, archived, byAttempt);
  }

  // The latest call log (by attempt, then time) of each schedule, in one query: on FerretDB a filter by
  // schedule reads the whole collection, so one query per schedule would read it once per schedule.
  async latestForSchedules(scheduleIds: string[]): Promise<Map<string, CallLog>> {
    const latest = new Map<string, CallLog>();
    if (scheduleIds.length === 0) return latest;
    const newest = new Map<string, LeanLog>();
    for (const doc of await this.findEverywhere({ schedule_id: op({ $in: [...new Set(scheduleIds)] }) })) if (doc.schedule_id) newest.set(doc.schedule_id, doc);
    for (const doc of await this.withPlacedCalls([...newest.values()])) latest.set(doc.schedule_id as string, toLog(doc));
    return latest;
  }

  // The call a provider accepted for this log, recorded by insert: the dial path's one write of the log's
  // call would otherwise be an update, a scan of call_logs on the stand-in database (one per dial, at every
  // size the collection reaches during a burst). The log takes it with its next write (write()), which is
  // usually the call's first report; every read fills it in meanwhile (withPlacedCalls). Repeatable: the
  // first record of a log stands.
  async recordPlacedCall(id: string, provider: string, callId: string, now: Date, logTimestamp?: Date): Promise<void> {
    const _id = new Types.ObjectId(id);
    let hour: Date;
    if (logTimestamp) hour = hourOf(logTimestamp);
    else {
      const log = this.gate.recall(_id) ?? (await this.findAnywhere({ _id }));
      // No log to name the call (as the attach it replaces, nothing is written).
      if (!log) return;
      hour = hourOfLog(log);
    }
    const placed: PlacedCall = { call_id: callId, provider, at: now };
    // A duplicate is an earlier record of the same log, which stands (and is what a read finds).
    if (await insertedUnlessDuplicate(() => this.placedInserts.insert({ _id, ...placed, hour }))) this.keepPlacedHere(id, placed);
  }

  // A log in flight, or ended unknown, that no write has given its provider, young enough for a record to be
  // kept: a dial's placed call may be waiting for it (schedule.reconcile may end a stopped dial's log unknown
  // just before the dial records its call).
  private awaitsPlacedCall(log: LeanLog): boolean {
    if (log.provider || this.clock.now().getTime() - log.timestamp.getTime() > this.placedLookupAgeMs) return false;
    return log.status === 'unknown' || IN_FLIGHT_STATUSES.includes(log.status as CallStatus);
  }

  private keepPlacedHere(id: string, placed: PlacedCall): void {
    this.placedHere.set(id, placed);
    if (this.placedHere.size > MAX_PLACED_HERE) this.placedHere.delete(this.placedHere.keys().next().value as string);
  }

  // The placed calls of those logs that wait for one: this process's own first, then the records, read
  // hour by hour (the hour's equality is what the stand-in filters on first).
  private async placedCallsOf(logs: LeanLog[]): Promise<Map<string, PlacedCall>> {
    const found = new Map<string, PlacedCall>();
    const byHour = new Map<number, Types.ObjectId[]>();
    for (const log of logs) {
      if (!this.awaitsPlacedCall(log)) continue;
      const id = String(log._id);
      const here = this.placedHere.get(id);
      if (here) found.set(id, here);
      else {
        const hour = hourOfLog(log).getTime();
        const ids = byHour.get(hour);
        if (ids) ids.push(log._id);
        else byHour.set(hour, [log._id]);
      }
    }
    await Promise.all(
      [...byHour].map(async ([hour, ids]) => {
        const filter = ids.length === 1 ? { hour: new Date(hour), _id: ids[0] } : ids.length <= MAX_IDS_PER_LOOKUP ? { hour: new Date(hour), _id: op({ $in: ids }) } : { hour: new Date(hour) };
        const wanted = new Set(ids.map(String));
        for (const r of await this.placedCalls.find(filter).lean<PlacedCallRecord[]>()) {
          if (!wanted.has(String(r._id))) continue;
          const placed = placedCallOf(r);
          found.set(String(r._id), placed);
          // The write that follows a read (a report's) finds it here.
          this.keepPlacedHere(String(r._id), placed);
        }
      }),
    );
    return found;
  }

  // Logs as their next write will leave them: each waiting one with its placed call filled in. The documents
  // are copies; a gate's remembered copy stays what is stored.
  private async withPlacedCalls(docs: LeanLog[]): Promise<LeanLog[]> {
    if (!docs.some((d) => this.awaitsPlacedCall(d))) return docs;
    const placed = await this.placedCallsOf(docs);
    return docs.map((d) => withPlacedCall(d, placed.get(String(d._id))));
  }

  // Deletes the records of placed calls older than any log still waits for (the archive pass, at most once an
  // hour per process: on the stand-in database the range reads every record).
  async prunePlacedCalls(now: Date): Promise<void> {
    if (now.getTime() - this.lastPlacedPrune < PRUNE_PLACED_CALLS_EVERY_MS) return;
    this.lastPlacedPrune = now.getTime();
    await this.placedCalls.deleteMany({ at: op({ $lt: new Date(now.getTime() - this.keepPlacedCallsMs) }) });
  }

  // Repeatable: a log already in this status is left as it is (no second timeline entry). `onlyFrom`: a
  // log in any other status is left too (its call's own reports moved it on). Returns whether the log
  // reads `status` now.
  async markAttemptEnded(id: string, status: CallStatus, fields: CallLogProgress & { provider?: string | null }, now: Date, onlyFrom?: CallStatus[]): Promise<boolean> {
    const entry: CallTimelineEntry = { status, ts: now, received_at: now, sequence_number: null, source: 'dispatcher', provider_status: null };
    let reads = false;
    await this.write(id, (log) => {
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
    await this.write(id, (log) => {
      moved = false;
      if (log.timeline.some((e) => sameEntry(e as CallTimelineEntry, entry))) return null;
      const timeline = [...log.timeline, entry];
      // An archived log (a settled `unknown` one, a day later) takes a final status but never goes back in
      // flight: the reconcilers, which would chase it, read only the hot logs.
      if (advancesTo(log.status as CallStatus, entry.status) && (!log.archived_at || isFinalCallStatus(entry.status))) {
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
    await this.write(id, () => ({ outcome_recorded_at: now }));
  }

  // Tenant scoping lives here: a non-admin's query always carries its tenant.
  // Newest first. `after`: keyset paging, the logs strictly after that position in this order (on MongoDB an
  // index range on {tenant_id, timestamp}, where an offset reads and skips every earlier log); the total
  // counts the whole filter either way.
  // Both collections are read and merged (pageOfBoth); the total adds theirs (a log being moved counts twice
  // for that moment).
  async listForTenant(scope: TenantScope, filter: CallLogFilter, limit: number, offset: number, after: LogCursor | null = null): Promise<{ items: CallLog[]; total: number }> {
    const query = trackingQuery(scope, filter);
    const page = after ? { ...query, $or: [{ timestamp: op({ $lt: after.timestamp }) }, { timestamp: after.timestamp, _id: op({ $lt: after.id }) }] } : query;
    const totals: number[] = [];
    const read: PageRead = async (model, skip, count) => {
      const [docs, total] = await findPageWithin<CallLogDoc, LeanLog>(model, page, NEWEST_FIRST, { offset: skip, limit: count }, this.config.apiQueryMaxTimeMs, query);
      totals.push(total);
      return docs;
    };
    const items = await this.withPlacedCalls(await this.pageOfBoth(read, offset, limit));
    return { items: items.map(toLog), total: totals.reduce((a, b) => a + b, 0) };
  }

  // One UTC hour's logs, newest first (see TrackingService.listLogs). `hour` is an equality the stand-in
  // database filters on before anything reaches the service; the timestamp bounds are the same hour, for an
  // index on {tenant_id, timestamp}.
  // An hour the archive cannot hold yet (its logs are younger than CALL_LOG_ARCHIVE_AFTER_HOURS) reads only the
  // hot collection: the listing's newest pages never read the archive.
  async listInHour(scope: TenantScope, hour: Date, status: CallStatus | undefined, after: LogCursor | null, skip: number, limit: number, now: Date): Promise<CallLog[]> {
    const query: Record<string, unknown> = { ...scopeFilter(scope), hour, timestamp: op({ $gte: hour, $lt: new Date(hour.getTime() + HOUR_MS) }) };
    if (status) query.status = status;
    if (after) query.$or = [{ timestamp: op({ $lt: after.timestamp }) }, { timestamp: after.timestamp, _id: op({ $lt: after.id }) }];
    const read = (model: Model<CallLogDoc>, from: number, count: number) =>
      withinTimeLimit(this.config.apiQueryMaxTimeMs, (limitMs) => model.find(query).sort(NEWEST_FIRST).skip(from).limit(count).setOptions(limitMs.options).lean<LeanLog[]>().exec());
    const hotOnly = hour.getTime() >= (await this.newestArchiveCutoff(now)).getTime() + ARCHIVE_CUTOFF_MARGIN_MS;
    return (await this.withPlacedCalls(hotOnly ? await read(this.logs, skip, limit) : await this.pageOfBoth(read, skip, limit))).map(toLog);
  }

  // Logs [offset, offset + limit) of both collections merged newest first, without reading the archive from
  // its start: the hot collection is read up to the page's end (it holds about a day of calls), and the
  // archive from offset − (hot logs read). Archived logs before that point are all before the page, and
  // every hot log newer than them is too, so positions in the merged list are off by exactly that skip.
  private async pageOfBoth(read: PageRead, offset: number, limit: number): Promise<LeanLog[]> {
    const hot = await read(this.logs, 0, offset + limit);
    const skip = Math.max(0, offset - hot.length);
    const archived = await read(this.archive, skip, offset + limit - skip);
    return merged(hot, archived, newerFirst).slice(offset - skip, offset - skip + limit);
  }

  // The latest cutoff any pass has used, or this configuration's: a cutoff raised since (a longer
  // CALL_LOG_ARCHIVE_AFTER_HOURS) leaves logs archived under the shorter one. Read at most once a minute per
  // process; the hour of margin its users add covers that.
  private async newestArchiveCutoff(now: Date): Promise<Date> {
    if (Date.now() - this.usedCutoff.readAt > CUTOFF_REREAD_MS) {
      const state = await this.archiveState.findById(ARCHIVE_STATE_ID).lean<CallLogArchiveStateDoc>();
      this.usedCutoff = { before: state?.newest_cutoff ?? null, readAt: Date.now() };
    }
    const configured = this.archiveCutoff(now);
    return this.usedCutoff.before && this.usedCutoff.before > configured ? this.usedCutoff.before : configured;
  }

  // Called by a pass before it moves anything under `before`. Only ever raised; two passes at once may leave
  // the lower of their two (close) cutoffs, within the readers' margin.
  async recordArchiveCutoff(before: Date): Promise<void> {
    const state = await this.archiveState.findById(ARCHIVE_STATE_ID).lean<CallLogArchiveStateDoc>();
    if (state && state.newest_cutoff >= before) return;
    if (state || !(await insertedUnlessDuplicate(() => this.archiveState.create({ _id: ARCHIVE_STATE_ID, newest_cutoff: before })))) {
      await this.archiveState.updateOne({ _id: ARCHIVE_STATE_ID }, { $set: { newest_cutoff: before } });
    }
    this.usedCutoff = { before, readAt: Date.now() };
  }

  // Logs last updated before this are archived once settled.
  archiveCutoff(now: Date): Date {
    return new Date(now.getTime() - this.config.callLogArchiveAfterHours * HOUR_MS);
  }

  // Counts per (status, duration) instead of $sum over durations, which FerretDB answers with 0.
  // Both collections' groups, one after the other (a log being moved counts twice for that moment).
  async countOutcomes(scope: TenantScope, filter: CallLogFilter): Promise<CallOutcomeGroup[]> {
    const limitMs = this.config.apiQueryMaxTimeMs;
    // The hot collection first: a log moved meanwhile is copied before its hot one is deleted, so it is
    // counted twice for that moment, never missed.
    const groups = await withinTimeLimit(limitMs, async (limit) => {
      const all: Array<{ _id: { status: CallStatus; duration?: number | null }; count: number }> = [];
      for (const model of [this.logs, this.archive]) {
        all.push(
          ...(await model
            .aggregate<{ _id: { status: CallStatus; duration?: number | null }; count: number }>([
              { $match: trackingQuery(scope, filter) },
              { $group: { _id: { status: '$status', duration: '$duration' }, count: { $sum: 1 } } },
            ])
            .option(limit.options)
            .exec()),
        );
      }
      return all;
    });
    return groups.map((g) => ({ status: g._id.status, duration: typeof g._id.duration === 'number' ? g._id.duration : null, count: g.count }));
  }

  // One small row per log, streamed: the input for per-day buckets, which FerretDB cannot $group by.
  // The hot collection's rows, then the archive's; a log being moved is streamed once (by its id), from its
  // archived copy when its hot one is frozen.
  async *streamOutcomes(scope: TenantScope, filter: CallLogFilter): AsyncGenerator<CallOutcomeRow> {
    // One limit for the whole stream: the stats read as a whole answers within it.
    const limit = new QueryTimeLimit(this.config.apiQueryMaxTimeMs);
    type Row = CallOutcomeRow & { _id: Types.ObjectId; archived_at?: Date | null };
    const view = (row: Row): CallOutcomeRow => ({ status: row.status, duration: typeof row.duration === 'number' ? row.duration : null, timestamp: row.timestamp });
    const hotIds = new Set<string>();
    const frozen = new Map<string, Row>();
    try {
      for (const model of [this.logs, this.archive]) {
        const archived = model === this.archive;
        const cursor = model.find(trackingQuery(scope, filter), { status: 1, duration: 1, timestamp: 1, archived_at: 1 }).setOptions(limit.options).lean<Row>().cursor({ batchSize: 1000 });
        const rows = cursor[Symbol.asyncIterator]();
        for (;;) {
          const next = await limit.run(() => rows.next());
          if (next.done) break;
          const row = next.value;
          const id = String(row._id);
          if (archived) {
            frozen.delete(id);
            if (hotIds.has(id)) continue;
          } else if (row.archived_at) {
            frozen.set(id, row);
            continue;
          } else hotIds.add(id);
          yield view(row);
        }
      }
      // Frozen, and not copied yet.
      for (const row of frozen.values()) yield view(row);
    } finally {
      limit.finish();
    }
  }

  // Moves up to `limit` settled logs that nothing updated since `before` into the archive: final or unknown
  // (no longer in flight), counted in the stats, and their schedule's outcome recorded (the reconcilers look
  // only for logs without one). Returns how many it found and how many it moved.
  // Safe without an atomic update, with the write gate's unique insert: the pass first wins each log's gate
  // of the revision it read, as a writer would, with a change that only freezes the log (`archived_at`),
  // and never writes it. No write of the hot log can land after that: a writer of that revision loses the
  // gate and waits until the log is gone (or, if this pass dies, takes over and writes the freeze), and a
  // writer that reads a frozen log follows it to the archive (see write()). Then the copy is inserted and
  // the hot log deleted. A log whose gate another writer holds is left for the next pass; a freeze gate left
  // by a pass that died is this pass's to finish.
  async archiveSettled(before: Date, limit: number): Promise<{ found: number; moved: number }> {
    const docs = await this.logs
      .find({
        status: op({ $in: SETTLED_STATUSES }),
        last_updated: op({ $lt: before }),
        in_stats: true,
        $or: [{ outcome_recorded_at: op({ $ne: null }) }, { schedule_id: null }],
      })
      .limit(limit)
      .lean<LeanLog[]>();
    if (docs.length === 0) return { found: 0, moved: 0 };
    const archivedAt = new Date();
    const frozen = await Promise.all(docs.map((doc) => this.freeze(doc, archivedAt)));
    const movable = docs.filter((_, i) => frozen[i]);
    const failures = await insertEach(this.archive.collection, movable.map((doc) => withoutNulls({ ...doc, archived_at: doc.archived_at ?? archivedAt })));
    const copied = await Promise.all(movable.map(async (doc, i) => !failures[i] || (isDuplicateKeyError(failures[i]) && (await this.keepOrRefreshCopy(doc)))));
    const moved = movable.filter((_, i) => copied[i]);
    const failed = failures.find((f) => f && !isDuplicateKeyError(f));
    if (moved.length === 0 && failed) throw failed;
    // Deleted hour by hour: `hour` is an equality the stand-in database filters on before anything reaches
    // its own filter code, so each delete tests only that hour's logs against its list of ids. One $in over
    // the whole collection tested every log: 26 s for 500 ids at 100,000 logs, against 0.15 s for an hour's.
    const byHour = new Map<number, Types.ObjectId[]>();
    for (const doc of moved) {
      const hour = (doc.hour as Date).getTime();
      const ids = byHour.get(hour);
      if (ids) ids.push(doc._id);
      else byHour.set(hour, [doc._id]);
    }
    for (const [hour, ids] of byHour) await this.logs.deleteMany({ hour: new Date(hour), _id: op({ $in: ids }) });
    return { found: docs.length, moved: moved.length };
  }

  // A copy already there, from a pass that died after its copy, or from a writer that followed a frozen log.
  // It is kept unless it is older than the hot log, which is then not frozen (written since its freeze
  // gate was pruned, an hour on): then nobody but this pass, holding the new freeze, writes either, and the
  // copy is replaced (on the driver's collection: `rev` is not in the schema, and Mongoose would drop it).
  private async keepOrRefreshCopy(doc: LeanLog): Promise<boolean> {
    const copy = await this.archive.findById(doc._id, { rev: 1 }).lean<{ rev?: number | null }>();
    if (!copy) return false;
    if (doc.archived_at || (copy.rev ?? 0) >= (doc.rev ?? 0)) return true;
    await this.archive.collection.replaceOne({ _id: doc._id }, withoutNulls({ ...doc, archived_at: new Date() }));
    return true;
  }

  // Whether the log is frozen at the revision read: by this pass's gate, by one a dead pass left, or
  // already written frozen (a waiter took a dead pass's freeze over).
  private async freeze(doc: LeanLog, at: Date): Promise<boolean> {
    if (doc.archived_at) return true;
    const held = await this.gate.hold(doc._id, doc.rev ?? 0, { archived_at: at });
    return held === null || (held.heldBy?.archived_at !== undefined && Object.keys(held.heldBy).length === 1);
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
    await Promise.all([this.logs.syncIndexes(), this.archive.syncIndexes(), this.placedCalls.syncIndexes()]);
  }

  // Dials whose outcome is unknown (a timeout or crash after the request may have left), with no callback since.
  async findUnknownWithoutOutcome(lastUpdatedBefore: Date, limit: number): Promise<CallLog[]> {
    const docs = await this.logs
      .find({ status: 'unknown', outcome_recorded_at: null, last_updated: op({ $lt: lastUpdatedBefore }), schedule_id: op({ $ne: null }) })
      .sort({ last_updated: 1 })
      .limit(limit)
      .lean<LeanLog[]>();
    // Unsettled for as long counted from the call's acceptance too, as the log reads once it takes the call in.
    return (await this.withPlacedCalls(docs)).filter((d) => d.last_updated.getTime() < lastUpdatedBefore.getTime()).map(toLog);
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
