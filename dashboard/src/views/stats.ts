import { Api } from '../api';
import { callsPerDayChart, ChartDay } from '../chart';
import { h } from '../dom';
import { lastDays } from '../format';
import { Counts, StatsReport } from '../types';

export interface StatsView {
  timezone: string;
  today: Counts;
  week: Counts;
  days: ChartDay[];
}

const ZERO: Counts = { total_calls: 0, completed_calls: 0, failed_calls: 0, pending_calls: 0, success_rate: 0, average_duration: 0, total_duration: 0 };

// One request: the last 7 calendar days in the browser's time zone, per day; today is the last day.
export async function loadStats(api: Api, timeZone: string): Promise<StatsView> {
  const days = lastDays(7, timeZone);
  const report = await api.get<StatsReport>('/schedule/tracking/stats', {
    start_date: days[0],
    end_date: days[days.length - 1],
    timezone: timeZone,
    group_by: 'day',
  });
  const byDate = new Map((report.by_day ?? []).map((d) => [d.date, d]));
  const today = byDate.get(days[days.length - 1]) ?? ZERO;
  return {
    timezone: report.timezone,
    today,
    week: report,
    days: days.map((date) => {
      const d = byDate.get(date) ?? ZERO;
      return { date, counts: { completed: d.completed_calls, failed: d.failed_calls, pending: d.pending_calls } };
    }),
  };
}

export function renderTiles(c: Counts, testId: string): Node[] {
  const tile = (label: string, value: string, key: string) =>
    h('div', { class: `tile ${key}`, 'data-testid': `${testId}-${key}` }, h('dt', {}, label), h('dd', {}, value));
  return [
    tile('Calls', String(c.total_calls), 'total'),
    tile('Completed', String(c.completed_calls), 'completed'),
    tile('Failed', String(c.failed_calls), 'failed'),
    tile('Pending', String(c.pending_calls), 'pending'),
    tile('Success rate', `${c.success_rate}%`, 'rate'),
    tile('Avg. duration', `${c.average_duration} s`, 'duration'),
  ];
}

export function renderChart(view: StatsView): Node {
  return h('div', {}, callsPerDayChart(view.days), h('p', { class: 'muted small' }, `Days in ${view.timezone}.`));
}
