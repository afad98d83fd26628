import { Injectable } from '@nestjs/common';
import { DateTime } from 'luxon';
import { Principal, scopeOf } from '../auth/principal';
import { CallLogFilter, CallLogRepository } from './call-log.repository';
import { CallLog } from './call-log.types';
import { CallStats, CallStatsTally } from './call-stats';
import { CallStatsQuery, ListCallLogsQuery, TrackingFilterQuery } from './dto/tracking-filter.query';
import { RequestValidationException } from '../common/errors/app.exception';
import { decodeLogCursor, encodeLogCursor } from './log-cursor';
import { InvalidDateRangeException } from './tracking.exceptions';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

export interface DayStats extends Omit<CallStats, 'by_status'> {
  date: string;
}

export interface CallStatsReport extends CallStats {
  timezone: string;
  by_day?: DayStats[];
}

@Injectable()
export class TrackingService {
  constructor(private readonly logs: CallLogRepository) {}

  // next_cursor: where the next page starts, when this one is full.
  async listLogs(principal: Principal, query: ListCallLogsQuery): Promise<{ items: CallLog[]; total: number; nextCursor: string | null }> {
    if (query.cursor !== undefined && query.offset > 0) throw new RequestValidationException('VALIDATION_001', 'offset', 'use either cursor or offset, not both');
    const after = query.cursor !== undefined ? decodeLogCursor(query.cursor) : null;
    const { items, total } = await this.logs.listForTenant(scopeOf(principal), { ...this.filterOf(query), status: query.status }, query.limit, query.offset, after);
    const last = items[items.length - 1];
    return { items, total, nextCursor: items.length === query.limit && last ? encodeLogCursor(last.timestamp, last.id) : null };
  }

  async stats(principal: Principal, query: CallStatsQuery): Promise<CallStatsReport> {
    const scope = scopeOf(principal);
    const filter = this.filterOf(query);
    const timezone = query.timezone ?? 'UTC';
    if (query.group_by !== 'day') {
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
    const by_day = [...days.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([date, tally]) => {
        const { by_status: _omit, ...rest } = tally.result();
        return { date, ...rest };
      });
    return { ...overall.result(), timezone, by_day };
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
