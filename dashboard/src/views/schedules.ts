import { Api } from '../api';
import { h } from '../dom';
import { formatDateTime, formatRelative, humanStatus } from '../format';
import { ActiveSchedule, Page, Schedule } from '../types';

export type ScheduleAction = 'pause' | 'resume' | 'cancel';

export interface UpcomingRow {
  id: string;
  status: ActiveSchedule['status'];
  next_execution: string | null;
  phone: string | null;
  description: string | null;
  repeats: string | null;
}

export interface Upcoming {
  rows: UpcomingRow[];
  total: number;
}

const ACTIONS_BY_STATUS: Partial<Record<ActiveSchedule['status'], ScheduleAction[]>> = {
  scheduled: ['pause', 'cancel'],
  paused: ['resume', 'cancel'],
};

// /schedule/active gives order, status and next execution; the newest schedules from /schedule give the
// phone and description to show next to them.
export async function loadUpcoming(api: Api): Promise<Upcoming> {
  const [active, recent] = await Promise.all([
    api.get<Page & { active_schedules: ActiveSchedule[] }>('/schedule/active', { limit: 50 }),
    api.get<Page & { schedules: Schedule[] }>('/schedule', { limit: 200 }),
  ]);
  const details = new Map(recent.schedules.map((sch) => [sch.id, sch]));
  const rows = active.active_schedules.map((a): UpcomingRow => {
    const d = details.get(a.schedule_id);
    const repeat = d?.repeat_config?.enabled ? (d.repeat_config.frequency ?? d.repeat_config.compiled_cron ?? 'repeats') : null;
    return {
      id: a.schedule_id,
      status: a.status,
      next_execution: a.next_execution,
      phone: d?.phone ?? null,
      description: d?.description ?? null,
      repeats: repeat,
    };
  });
  return { rows, total: active.total };
}

const ACTION_LABEL: Record<ScheduleAction, string> = { pause: 'Pause', resume: 'Resume', cancel: 'Cancel' };

// Minute resolution: the section is only redrawn when something a reader would notice changed.
function when(next: string | null, now: number): string {
  if (!next) return '';
  const ms = new Date(next).getTime() - now;
  if (ms <= 0) return 'due now';
  if (ms < 60_000) return 'in less than a minute';
  return formatRelative(new Date(now + Math.round(ms / 60_000) * 60_000).toISOString(), now);
}

export function upcomingKey(data: Upcoming, now: number): string {
  return JSON.stringify([data, data.rows.map((r) => when(r.next_execution, now))]);
}

export function renderUpcoming(data: Upcoming, now: number, onAction: (row: UpcomingRow, action: ScheduleAction, button: HTMLButtonElement) => void): Node {
  if (data.rows.length === 0) {
    return h('p', { class: 'empty', 'data-testid': 'upcoming-empty' }, 'No upcoming schedules.');
  }
  const body = h('tbody');
  for (const row of data.rows) {
    const who = row.phone ?? row.id;
    const actions = h('div', { class: 'actions' });
    for (const action of ACTIONS_BY_STATUS[row.status] ?? []) {
      const button = h(
        'button',
        {
          type: 'button',
          class: action === 'cancel' ? 'danger' : 'secondary',
          'data-testid': `${action}-button`,
          'data-schedule-id': row.id,
          'aria-label': `${ACTION_LABEL[action]} the schedule for ${who}`,
        },
        ACTION_LABEL[action],
      );
      button.addEventListener('click', () => onAction(row, action, button));
      actions.append(button);
    }
    body.append(
      h(
        'tr',
        { 'data-testid': 'schedule-row', 'data-schedule-id': row.id, 'data-status': row.status },
        h(
          'td',
          {},
          h('time', { datetime: row.next_execution ?? '' }, formatDateTime(row.next_execution)),
          h('span', { class: 'muted block' }, when(row.next_execution, now)),
        ),
        h('td', { class: 'mono' }, row.phone ?? '—'),
        h('td', {}, row.description ?? '', row.repeats ? h('span', { class: 'muted block' }, `Repeats: ${row.repeats}`) : null),
        h('td', {}, h('span', { class: `badge status-${row.status}`, 'data-testid': 'schedule-status' }, humanStatus(row.status))),
        h('td', {}, actions),
      ),
    );
  }
  const table = h(
    'table',
    { 'data-testid': 'upcoming-table' },
    h('caption', { class: 'visually-hidden' }, 'Live schedules, soonest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Next execution'),
        h('th', { scope: 'col' }, 'Phone'),
        h('th', { scope: 'col' }, 'Description'),
        h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
      ),
    ),
    body,
  );
  const more = data.total > data.rows.length ? h('p', { class: 'muted' }, `Showing ${data.rows.length} of ${data.total} live schedules.`) : null;
  return h('div', { class: 'table-wrap' }, table, more);
}
