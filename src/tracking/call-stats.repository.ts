import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { InsertBatcher } from '../common/mongo/insert-batcher';
import { insertedUnlessDuplicate, isDuplicateKeyError, op, retryOnLockContention } from '../common/mongo/mongo-query';
import { withinTimeLimit } from '../common/mongo/query-time-limit';
import { WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { duplicateIndexes } from '../common/mongo/write-errors';
import { CallStatus } from './call-status';
import { addSums, emptySums, isZeroSums, StatsSums, sumsOf } from './call-stats';
import { CALL_STATS_DAY_WRITE_GATE, CallStatChangeDoc, CallStatsDayDoc, CallStatsStateDoc } from './schemas/call-stats.schema';

export const HOUR_MS = 3_600_000;
// No wait to gather: the log write waits on this insert, and changes made while one is in flight still
// share the next (the batcher's queue).
const GATHER_MS = 0;
const BACKFILLED = 'backfilled';
const daysVersionId = (tenantId: string) => `days|${tenantId}`;
// Days kept per tenant, under their version; a tenant's entry is not used after this long even if its
// version did not change (an instance of an older version folds without changing it, during a rolling
// upgrade). At most this many days are kept over all tenants (a parsed day is a few KB): expired entries
// go first, then the oldest.
const DAYS_KEPT_MS = 60_000;
const DAYS_KEPT_MAX = 10_000;

interface KeptDays {
  token: string;
  at: number;
  days: ReadDay[];
}

// A day as the read uses it: its hours parsed once.
interface ReadDay {
  _id: string;
  tenant_id: string;
  day: Date;
  folded_until: Date;
  hours: Record<string, StatsSums>;
}

// A call log as the stats see it: null when it does not count (yet).
export interface CountedLog {
  tenant_id: string;
  timestamp: Date;
  status: CallStatus;
  duration: number | null;
}

type LeanDay = CallStatsDayDoc & { rev?: number | null };
// A change before insertChanges stamps its `at`.
type UnstampedChange = Omit<CallStatChangeDoc, 'at'>;

export interface StatsHour {
  hour: Date;
  sums: StatsSums;
}

export const hourOf = (at: Date) => new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
const DAY_MS = 24 * HOUR_MS;
const dayOf = (hour: Date) => new Date(Math.floor(hour.getTime() / DAY_MS) * DAY_MS);
const dayId = (tenantId: string, hour: Date) => `${tenantId}|${hour.toISOString().slice(0, 10)}`;
const hourKey = (hour: Date) => hour.toISOString().slice(11, 13);
const sumsFrom = (d: StatsSums): StatsSums => ({
  counts: { ...(d.counts ?? {}) },
  total_duration: d.total_duration ?? 0,
  completed_duration: d.completed_duration ?? 0,
  completed_with_duration: d.completed_with_duration ?? 0,
});

// A day's hourly sums: the JSON text plus the nested form. A day folded before the text existed has only
// the nested form; a fold by an instance of that older version, during a rolling upgrade, adds its changes
// to the nested form, which the text's fold had emptied. Each sum is in exactly one of the two.
function hoursOf(day: LeanDay): Record<string, StatsSums> {
  const hours: Record<string, StatsSums> = day.hours_json ? (JSON.parse(day.hours_json) as Record<string, StatsSums>) : {};
  for (const [hh, sums] of Object.entries(day.hours ?? {})) hours[hh] = hours[hh] ? addSums(sumsFrom(hours[hh]), sumsFrom(sums)) : sums;
  return hours;
}

function readDay(day: LeanDay): ReadDay {
  return { _id: day._id, tenant_id: day.tenant_id, day: day.day, folded_until: day.folded_until, hours: hoursOf(day) };
}

// Call stats kept as sums per tenant and UTC hour, so /schedule/tracking/stats reads a few small documents
// instead of every call log. Without atomic updates ($inc is lost under concurrency on the stand-in) the
// sums are built from insert-only changes:
//   1. every write of a call log that changes its status or duration stores one change document (its
//      contribution after minus before), keyed by the log's revision: the write gate lets exactly one
//      writer make each revision, and a repeat of the same write is refused by the unique key;
//   2. folding adds the changes stored up to a cutoff to their hour, in the tenant's document of that day,
//      under the day's write gate, moves its `folded_until` there, and deletes them. A fold computed from a
//      day already folded further adds nothing twice, so concurrent or repeated folds are safe;
//   3. a read takes the unfolded changes first, then the days, and counts a change only if its day has not
//      folded past it: whichever way a fold interleaves, each change counts once.
@Injectable()
export class CallStatsRepository {
  private readonly gate: WriteGate<LeanDay>;
  private readonly batcher: InsertBatcher<UnstampedChange>;
  private backfilled = false;
  private readonly kept = new Map<string, KeptDays>();
  private keptDays = 0;

  constructor(
    @InjectModel(CallStatChangeDoc.name) private readonly changes: Model<CallStatChangeDoc>,
    @InjectModel(CallStatsDayDoc.name) private readonly days: Model<CallStatsDayDoc>,
    @InjectModel(CallStatsStateDoc.name) private readonly state: Model<CallStatsStateDoc>,
    @InjectModel(CALL_STATS_DAY_WRITE_GATE) gates: Model<WriteGateDoc>,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.gate = new WriteGate<LeanDay>(days, gates);
    this.batcher = new InsertBatcher<UnstampedChange>((docs) => this.insertChanges(docs), GATHER_MS);
  }

  // Resolves once the change is stored. Called before the log write it describes (see CallLogRepository).
  async recordChange(key: string, before: CountedLog | null, after: CountedLog | null): Promise<void> {
    const log = after ?? before;
    if (!log) return;
    const delta = emptySums();
    if (after) addSums(delta, sumsOf(after));
    if (before) addSums(delta, sumsOf(before), -1);
    if (isZeroSums(delta)) return;
    await this.batcher.add({ _id: key, tenant_id: log.tenant_id, hour: hourOf(log.timestamp), ...delta } as UnstampedChange);
  }

  // `at` is stamped when the insert is sent, so a change is never stored long after its `at` (see fold).
  private async insertChanges(docs: UnstampedChange[]): Promise<unknown[]> {
    const at = new Date();
    const stamped = docs.map((d) => ({ ...d, at }));
    try {
      await this.changes.collection.insertMany(stamped as never[], { ordered: false });
      return docs.map(() => undefined);
    } catch (error) {
      // A duplicate is the same change stored by an earlier try of the same write.
      if (duplicateIndexes(error)) return docs.map(() => undefined);
      const results: unknown[] = [];
      for (const doc of docs) {
        try {
          await retryOnLockContention(() => insertedUnlessDuplicate(() => this.changes.collection.insertOne({ ...doc, at: new Date() } as never)));
          results.push(undefined);
        } catch (failure) {
          results.push(failure);
        }
      }
      return results;
    }
  }

  // The hours of the tenant (every tenant: null) in [from, to), with the changes not folded yet added.
  // Changes first, then days: a fold that runs in between has moved folded_until past the changes it
  // took, so they are skipped here (see the class comment). A tenant's days are read again only when their
  // version changed: days kept from an earlier read are older than the changes just read, never newer, so
  // a change is still counted once (the fold changes the version before it deletes what it folded).
  async hoursWithin(tenantId: string | null, from: Date | undefined, to: Date | undefined): Promise<StatsHour[]> {
    const scope = tenantId === null ? {} : { tenant_id: tenantId };
    const range = from || to ? { day: op({ ...(from ? { $gte: dayOf(from) } : {}), ...(to ? { $lt: to } : {}) }) } : {};
    const [pending, stored] = await withinTimeLimit(this.config.apiQueryMaxTimeMs, async (limit) => {
      const changes = await this.changes.find(scope).setOptions(limit.options).lean<CallStatChangeDoc[]>();
      if (tenantId === null) return [changes, (await this.days.find(range).setOptions(limit.options).lean<LeanDay[]>()).map(readDay)] as const;
      return [changes, await this.tenantDays(tenantId, limit.options)] as const;
    });
    const inRange = (hour: Date) => (!from || hour.getTime() >= from.getTime()) && (!to || hour.getTime() < to.getTime());
    const foldedUntil = new Map(stored.map((d) => [d._id, d.folded_until.getTime()]));
    const byHour = new Map<string, StatsHour>();
    const add = (tenant: string, hour: Date, sums: StatsSums) => {
      if (!inRange(hour)) return;
      const key = `${tenant}|${hour.toISOString()}`;
      const entry = byHour.get(key);
      if (entry) addSums(entry.sums, sums);
      else byHour.set(key, { hour, sums: sumsFrom(sums) });
    };
    for (const d of stored) for (const [hh, sums] of Object.entries(d.hours)) add(d.tenant_id, new Date(d.day.getTime() + Number(hh) * HOUR_MS), sums);
    for (const c of pending) if (c.at.getTime() > (foldedUntil.get(dayId(c.tenant_id, c.hour)) ?? 0)) add(c.tenant_id, c.hour, c);
    return [...byHour.values()];
  }

  // Every day of the tenant: the ones kept under the current version, else read (and kept).
  private async tenantDays(tenantId: string, options: Record<string, unknown>): Promise<ReadDay[]> {
    const version = await this.daysVersion(tenantId, options);
    const kept = this.kept.get(tenantId);
    const now = this.clock.now().getTime();
    if (kept && kept.token === version && now - kept.at < DAYS_KEPT_MS) return kept.days;
    const days = (await this.days.find({ tenant_id: tenantId }).setOptions(options).lean<LeanDay[]>()).map(readDay);
    this.keep(tenantId, { token: version, at: now, days }, now);
    return days;
  }

  private keep(tenantId: string, entry: KeptDays, now: number): void {
    const drop = (id: string) => {
      this.keptDays -= this.kept.get(id)?.days.length ?? 0;
      this.kept.delete(id);
    };
    drop(tenantId);
    for (const [id, kept] of this.kept) if (now - kept.at >= DAYS_KEPT_MS) drop(id);
    // Map order is insertion order: the oldest first.
    for (const id of this.kept.keys()) {
      if (this.keptDays + entry.days.length <= DAYS_KEPT_MAX) break;
      drop(id);
    }
    if (this.keptDays + entry.days.length > DAYS_KEPT_MAX) return;
    this.kept.set(tenantId, entry);
    this.keptDays += entry.days.length;
  }

  // The tenant's days version, made on the first read (days folded before versions existed, or seeded).
  private async daysVersion(tenantId: string, options: Record<string, unknown>): Promise<string> {
    const found = await this.state.findById(daysVersionId(tenantId)).setOptions(options).lean<CallStatsStateDoc>();
    if (found?.token) return found.token;
    const token = randomUUID();
    if (await retryOnLockContention(() => insertedUnlessDuplicate(() => this.state.create({ _id: daysVersionId(tenantId), at: new Date(), token })))) return token;
    return (await this.state.findById(daysVersionId(tenantId)).setOptions(options).lean<CallStatsStateDoc>())?.token ?? token;
  }

  // A plain write (the last one wins): any new token tells a reader its kept days are out of date.
  private async changeDaysVersion(tenantId: string): Promise<void> {
    const write = () => this.state.updateOne({ _id: daysVersionId(tenantId) }, { $set: { token: randomUUID(), at: new Date() } }, { upsert: true });
    await retryOnLockContention(() => write().catch((error: unknown) => (isDuplicateKeyError(error) ? write() : Promise.reject(error))));
  }

  // Folds the changes stored at or before `cutoff` into their hours and deletes them. The cutoff lags the
  // present (see CallStatsFoldJob): a change stamped before it but still on its way would be skipped.
  async fold(cutoff: Date, limit = 5000): Promise<number> {
    const stored = (await this.changes.find({}).lean<CallStatChangeDoc[]>()).filter((c) => c.at.getTime() <= cutoff.getTime()).sort((a, b) => a.at.getTime() - b.at.getTime());
    // A prefix by time: every change of an hour up to its new folded_until must be in this fold. Changes
    // stored by one insert share their `at`, so the limit never splits them.
    let due = stored;
    if (stored.length > limit) {
      const boundary = stored[limit].at.getTime();
      due = stored.filter((c) => c.at.getTime() < boundary);
      if (due.length === 0) due = stored.filter((c) => c.at.getTime() === boundary);
    }
    const byDay = new Map<string, CallStatChangeDoc[]>();
    for (const c of due) {
      const id = dayId(c.tenant_id, c.hour);
      byDay.set(id, [...(byDay.get(id) ?? []), c]);
    }
    for (const [id, changes] of byDay) {
      const until = new Date(Math.max(...changes.map((c) => c.at.getTime())));
      const { tenant_id, hour } = changes[0];
      await retryOnLockContention(() => insertedUnlessDuplicate(() => this.days.create({ _id: id, tenant_id, day: dayOf(hour), hours: {}, folded_until: new Date(0) })));
      // Safe under concurrency: the gate serialises the writes of one day, each computed from the day as
      // the previous one left it, and only changes after its folded_until are added.
      await this.gate.update(id, (current) => {
        const from = current.folded_until.getTime();
        if (until.getTime() <= from) return null;
        const hours: Record<string, StatsSums> = Object.fromEntries(Object.entries(hoursOf(current)).map(([hh, sums]) => [hh, sumsFrom(sums)]));
        for (const c of changes) if (c.at.getTime() > from) hours[hourKey(c.hour)] = addSums(hours[hourKey(c.hour)] ?? emptySums(), sumsFrom(c));
        return { hours_json: JSON.stringify(hours), hours: {}, folded_until: until };
      });
      // After the day's write, before the delete: a reader that still sees the folded changes may count
      // them on days it kept; one that no longer sees them sees a new version and reads the day again.
      await this.changeDaysVersion(tenant_id);
      await this.changes.deleteMany({ _id: op({ $in: changes.map((c) => c._id) }) });
    }
    return due.length;
  }

  // Once true, true for good: remembered, so a stats read does not ask again.
  async isBackfilled(): Promise<boolean> {
    this.backfilled ||= (await withinTimeLimit(this.config.apiQueryMaxTimeMs, (limit) => this.state.findById(BACKFILLED).setOptions(limit.options).lean())) !== null;
    return this.backfilled;
  }

  async markBackfilled(now: Date): Promise<void> {
    await insertedUnlessDuplicate(() => this.state.create({ _id: BACKFILLED, at: now }));
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([this.changes.syncIndexes(), this.days.syncIndexes()]);
  }
}
