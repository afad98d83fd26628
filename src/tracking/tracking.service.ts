import { Injectable } from '@nestjs/common';
import { DateTime } from 'luxon';
import { Principal, scopeOf, TenantScope } from '../auth/principal';
import { CallLogFilter, CallLogRepository } from './call-log.repository';
import { CallLog } from './call-log.types';
import { CallStats, CallStatsTally } from './call-stats';
import { CallStatsRepository, StatsHour } from './call-stats.repository';
import { CallStatsQuery, ListCallLogsQuery, TrackingFilterQuery } from './dto/tracking-filter.query';
import { RequestValidationException } from '../common/errors/app.exception';
import { decodeLogCursor, encodeLogCursor, LogCursor } from './log-cursor';
import { CallStatus } from './call-status';
import { InvalidDateRangeException } from './tracking.exceptions';
import { Clock } from '../common/clock/clock';
import { SharedReads } from '../common/shared-reads';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

export interface DayStats extends Omit<CallStats, 'by_status'> {
  date: string;
}

export interface CallStatsReport extends CallStats {
  timezone: string;
  by_day?: DayStats[];
}

const HOUR_MS = 3_600_000;

// Every instant of the UTC hour starting at `hour` falls on the same day in the zone.
function wholeHourIn(hour: Date, zone: string): boolean {
  const start = DateTime.fromJSDate(hour, { zone });
  return start.minute === 0 && start.second === 0 && DateTime.fromMillis(hour.getTime() + HOUR_MS - 1, { zone }).toISODate() === start.toISODate();
}

function dayRows(days: Map<string, CallStatsTally>): DayStats[] {
  return [...days.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([date, tally]) => {
      const { by_status: _omit, ...rest } = tally.result();
      return { date, ...rest };
    });
}

@Injectable()
export class TrackingService {
  private readonly shared = new SharedReads();

  constructor(
    private readonly logs: CallLogRepository,
    private readonly sums: CallStatsRepository,
    private readonly clock: Clock,
  ) {}

  // next_cursor: where the next page starts, when this one is full. The dashboard polls the newest page:
  // identical requests at once share their reads (SharedReads), each still answered by a read started after
  // it arrived.
  async listLogs(principal: Principal, query: ListCallLogsQuery): Promise<{ items: CallLog[]; total: number; nextCursor: string | null }> {
    if (query.cursor !== undefined && query.offset > 0) throw new RequestValidationException('VALIDATION_001', 'offset', 'use either cursor or offset, not both');
    const after = query.cursor !== undefined ? decodeLogCursor(query.cursor) : null;
    const scope = scopeOf(principal);
    return this.shared.read(JSON.stringify(['logs', scope, query]), () => this.readLogs(scope, query, after));
  }

  private async readLogs(scope: TenantScope, query: ListCallLogsQuery, after: LogCursor | null): Promise<{ items: CallLog[]; total: number; nextCursor: string | null }> {
    const filter = this.filterOf(query);
    const hours = await this.hoursFor(scope, filter, 'UTC', false);
    const { items, total } = hours
      ? await this.listByHours(scope, hours, query.status, query.limit, query.offset, after)
      : await this.logs.listForTenant(scope, { ...filter, status: query.status }, query.limit, query.offset, after);
    const last = items[items.length - 1];
    return { items, total, nextCursor: items.length === query.limit && last ? encodeLogCursor(last.timestamp, last.id) : null };
  }

  // The hourly sums say how many logs each hour holds: the total is their sum, an offset skips whole hours
  // without reading them, and a page reads only the hours it shows, newest first. Every read is then one
  // hour's logs (on the stand-in database, the whole-collection sort of a plain listing costs seconds at
  // 100,000 logs).
  private async listByHours(scope: TenantScope, hours: StatsHour[], status: CallStatus | undefined, limit: number, offset: number, after: LogCursor | null) {
    const inHour = new Map<number, number>();
    for (const { hour, sums } of hours) {
      const n = status ? (sums.counts[status] ?? 0) : Object.values(sums.counts).reduce((a, b) => a + b, 0);
      inHour.set(hour.getTime(), (inHour.get(hour.getTime()) ?? 0) + n);
    }
    const newestFirst = [...inHour.entries()].filter(([, n]) => n > 0).sort(([a], [b]) => b - a);
    const total = newestFirst.reduce((sum, [, n]) => sum + n, 0);
    const items: CallLog[] = [];
    const now = this.clock.now();
    let skip = offset;
    for (const [start, n] of newestFirst) {
      if (items.length >= limit) break;
      // Every log of an hour that starts after the cursor is newer than it.
      if (after && start > after.timestamp.getTime()) continue;
      if (skip >= n) {
        skip -= n;
        continue;
      }
      items.push(...(await this.logs.listInHour(scope, new Date(start), status, after, skip, limit - items.length, now)));
      skip = 0;
    }
    return { items, total };
  }

  // Shared by identical requests at once, as listLogs.
  async stats(principal: Principal, query: CallStatsQuery): Promise<CallStatsReport> {
    const scope = scopeOf(principal);
    return this.shared.read(JSON.stringify(['stats', scope, query]), () => this.readStats(scope, query));
  }

  private async readStats(scope: TenantScope, query: CallStatsQuery): Promise<CallStatsReport> {
    const filter = this.filterOf(query);
    const timezone = query.timezone ?? 'UTC';
    const hours = await this.hoursFor(scope, filter, timezone, query.group_by === 'day');
    return hours ? this.statsFromHours(hours, timezone, query.group_by === 'day') : this.statsFromLogs(scope, filter, timezone, query.group_by === 'day');
  }

  // The hourly sums serve a tenant's (or an admin's) stats over whole hours, when each hour falls in one day
  // of the timezone (not in zones a half hour off UTC), once the older logs are counted in them. Filters by
  // profile, schedule or phone, and agent-instance tokens, read the logs.
  private async hoursFor(scope: TenantScope, filter: CallLogFilter, zone: string, byDay: boolean): Promise<StatsHour[] | null> {
    if (filter.user_profile_id || filter.schedule_id || filter.phone || scope.agentInstanceIds) return null;
    if ((filter.from && filter.from.getTime() % HOUR_MS !== 0) || (filter.to && filter.to.getTime() % HOUR_MS !== 0)) return null;
    if (!(await this.sums.isBackfilled())) return null;
    const hours = await this.sums.hoursWithin(scope.isAdmin ? null : scope.tenantId, filter.from, filter.to);
    if (byDay && hours.some(({ hour }) => !wholeHourIn(hour, zone))) return null;
    return hours;
  }

  private statsFromHours(hours: StatsHour[], timezone: string, byDay: boolean): CallStatsReport {
    const overall = new CallStatsTally();
    const days = new Map<string, CallStatsTally>();
    for (const { hour, sums } of hours) {
      overall.addSums(sums);
      // An hour whose logs are all gone (or never were) is no day of its own, as with the logs.
      if (!byDay || Object.values(sums.counts).every((n) => n === 0)) continue;
      const day = DateTime.fromJSDate(hour, { zone: timezone }).toISODate() as string;
      let tally = days.get(day);
      if (!tally) days.set(day, (tally = new CallStatsTally()));
      tally.addSums(sums);
    }
    return byDay ? { ...overall.result(), timezone, by_day: dayRows(days) } : { ...overall.result(), timezone };
  }

  private async statsFromLogs(scope: TenantScope, filter: CallLogFilter, timezone: string, byDay: boolean): Promise<CallStatsReport> {
    if (!byDay) {
      const tally = new CallStatsTally();
      for (const g of await this.logs.countOutcomes(scope, filter)) tally.add(g.status, g.duration, g.count);
      return { ...tally.result(), timezone };
    }
    // Totals come from the same rows as the days, so the days always add up to them.
    const overall = new CallStatsTally();
    const days = new Map<string, CallStatsTally>();
    for await (const row of this.logs.streamOutcomes(scope, filter)) {
      const day = DateTime.fromJSDate(row.timestamp, { zone: timezone }).toISODate() as string;
      let tally = days.get(day);
      if (!tally) days.set(day, (tally = new CallStatsTally()));
      tally.add(row.status, row.duration);
      overall.add(row.status, row.duration);
    }
    return { ...overall.result(), timezone, by_day: dayRows(days) };
  }

  // Date-only bounds cover whole days in the requested timezone; end_date is inclusive either way.
  private filterOf(query: TrackingFilterQuery): CallLogFilter {
    const zone = query.timezone ?? 'UTC';
    const from = query.start_date ? this.instant(query.start_date, zone, false) : undefined;
    const to = query.end_date ? this.instant(query.end_date, zone, true) : undefined;
    if (from && to && to.getTime() <= from.getTime()) throw new InvalidDateRangeException(query.start_date as string, query.end_date as string);
    return { user_profile_id: query.user_profile_id, schedule_id: query.schedule_id, phone: query.phone, from, to };
  }

  private instant(value: string, zone: string, end: boolean): Date {
    if (DATE_ONLY.test(value)) {
      const day = DateTime.fromISO(value, { zone }).startOf('day');
      return (end ? day.plus({ days: 1 }) : day).toJSDate();
    }
    const at = new Date(value);
    return end ? new Date(at.getTime() + 1) : at;
  }
}
