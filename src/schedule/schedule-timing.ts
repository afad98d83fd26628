import { CompiledRecurrence, nextOccurrence } from './recurrence/recurrence';
import { Schedule, StoredRepeatConfig } from './schedule.types';

export function compiledOf(rc: StoredRepeatConfig, timezone: string): CompiledRecurrence {
  return { cron: rc.compiled_cron, timezone, anchor: rc.anchor, interval: rc.interval, unit: rc.interval_unit };
}

// The next occurrence of a recurring schedule after `after`, within end_date and max_occurrences.
// `handled` is how many occurrences have been used up so far (dispatched or missed).
export function nextWithinBounds(schedule: Pick<Schedule, 'repeat_config' | 'timezone'>, after: Date, handled: number, inclusive = false): Date | null {
  const rc = schedule.repeat_config;
  if (!rc) return null;
  if (rc.max_occurrences !== null && handled >= rc.max_occurrences) return null;
  const next = nextOccurrence(compiledOf(rc, schedule.timezone), after, inclusive);
  if (!next) return null;
  if (rc.end_date && next.getTime() > rc.end_date.getTime()) return null;
  return next;
}

// Occurrences due in [from, now], capped: what a misfire collapses into one decision.
export function dueOccurrences(schedule: Pick<Schedule, 'repeat_config' | 'timezone'>, from: Date, now: Date, cap: number): Date[] {
  const out: Date[] = [from];
  if (!schedule.repeat_config) return out;
  let cursor = from;
  while (out.length < cap) {
    const next = nextWithinBounds(schedule, cursor, 0);
    if (!next || next.getTime() > now.getTime()) break;
    out.push(next);
    cursor = next;
  }
  return out;
}
