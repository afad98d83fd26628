import { Schedule, ScheduleEventRecord } from '../../schedule/schedule.types';
import { taskStatusOf } from '../task-status';

// Seed 000 writes whole-second UTC times ("2026-02-01T22:00:00Z").
const utc = (d: Date | null) => (d ? new Date(d).toISOString().replace(/\.000Z$/, 'Z') : null);
const text = (v: unknown) => (typeof v === 'string' ? v : null);
// The seed is a Python service: its levels are logging's names.
const LEVEL = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' } as const;

export function taskSummaryView(s: Schedule) {
  const o = s.provider_options;
  return {
    taskId: s.id,
    status: taskStatusOf(s.status),
    runAtUtc: utc(s.scheduled_time),
    agentType: text(o.agent_type),
    conversationId: text(o.conversation_id),
    mode: text(o.mode) ?? 'DIRECT',
    callId: s.call_id,
    lastError: s.last_error,
    createdAt: utc(s.created_at),
    updatedAt: utc(s.last_updated),
  };
}

// The event list is our schedule's event log, oldest first, numbered from 1 as the seed's rows are.
export function taskView(s: Schedule, newestFirst: ScheduleEventRecord[]) {
  return {
    ...taskSummaryView(s),
    events: [...newestFirst].reverse().map((e, i) => ({ id: i + 1, tsUtc: utc(e.ts), level: LEVEL[e.level] ?? 'INFO', message: e.message })),
  };
}
