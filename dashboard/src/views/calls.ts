import { Api } from '../api';
import { h } from '../dom';
import { formatDateTime, formatDuration, formatTime, humanStatus } from '../format';
import { CallLog, Page, TimelineEntry } from '../types';

export interface RecentCalls {
  logs: CallLog[];
  total: number;
}

export async function loadRecentCalls(api: Api): Promise<RecentCalls> {
  const page = await api.get<Page & { logs: CallLog[] }>('/schedule/tracking/logs', { limit: 20 });
  return { logs: page.logs, total: page.total };
}

const STEP_ORDER: Record<string, number> = { queued: 1, initiated: 2, ringing: 3, in_progress: 4, completed: 5, busy: 5, no_answer: 5, failed: 5, canceled: 5, unknown: 6 };
const second = (e: TimelineEntry) => Math.floor(new Date(e.ts ?? e.received_at ?? 0).getTime() / 1000);

// Providers stamp callbacks to the second (Twilio's Timestamp), our own entries to the millisecond:
// order by second, then by call progress. Repeats of a status (e.g. queued, then accepted by the
// provider while still queued) are shown once.
function steps(entries: TimelineEntry[]): TimelineEntry[] {
  const sorted = [...entries].sort((a, b) => second(a) - second(b) || (STEP_ORDER[a.status] ?? 9) - (STEP_ORDER[b.status] ?? 9) || (a.sequence_number ?? 0) - (b.sequence_number ?? 0));
  return sorted.filter((e, i) => i === 0 || e.status !== sorted[i - 1].status);
}

function timeline(log: CallLog): HTMLOListElement {
  const entries = steps(log.timeline);
  const list = h('ol', { class: 'timeline', 'aria-label': `Status timeline of the call to ${log.phone}`, 'data-testid': 'call-timeline' });
  for (const e of entries) {
    list.append(
      h(
        'li',
        { class: `status-${e.status}`, 'data-testid': 'timeline-entry', 'data-status': e.status },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        h('span', { class: 'step' }, humanStatus(e.status)),
        ' ',
        h('time', { datetime: e.ts ?? '', title: e.source }, formatTime(e.ts)),
      ),
    );
  }
  if (entries.length === 0) list.append(h('li', { class: 'muted' }, 'No status received yet'));
  return list;
}

export function renderRecentCalls(data: RecentCalls): Node {
  if (data.logs.length === 0) return h('p', { class: 'empty', 'data-testid': 'calls-empty' }, 'No calls yet.');
  const list = h('ul', { class: 'calls', 'data-testid': 'calls-list' });
  for (const log of data.logs) {
    list.append(
      h(
        'li',
        { class: 'call', 'data-testid': 'call-row', 'data-call-id': log.id, 'data-schedule-id': log.schedule_id ?? '', 'data-status': log.status },
        h(
          'div',
          { class: 'call-head' },
          h('span', { class: `badge status-${log.status}`, 'data-testid': 'call-status' }, humanStatus(log.status)),
          h('strong', { class: 'mono' }, log.phone),
          h('span', { class: 'muted' }, `attempt ${log.attempt_number}`),
          h('span', { class: 'muted' }, 'dialed ', h('time', { datetime: log.timestamp ?? '' }, formatDateTime(log.timestamp))),
          log.duration !== null ? h('span', { class: 'muted' }, `duration ${formatDuration(log.duration)}`) : null,
        ),
        timeline(log),
        log.error_code || log.error_message
          ? h('p', { class: 'error small' }, `${log.error_code ?? ''} ${log.error_message ?? ''}`.trim())
          : null,
      ),
    );
  }
  const more = data.total > data.logs.length ? h('p', { class: 'muted' }, `Latest ${data.logs.length} of ${data.total} calls.`) : null;
  return h('div', {}, list, more);
}
