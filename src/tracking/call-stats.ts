import { CALL_STATUSES, CallStatus } from './call-status';

// failed_calls: final but not completed (busy, no_answer, failed, canceled).
// pending_calls: everything else, i.e. outcome not known yet (queued, initiated, ringing, in_progress,
// and unknown, which the reconciler still has to settle), so total = completed + failed + pending.
export const FAILED_CALL_STATUSES: readonly CallStatus[] = ['busy', 'no_answer', 'failed', 'canceled'];

export interface CallStats {
  total_calls: number;
  completed_calls: number;
  failed_calls: number;
  pending_calls: number;
  success_rate: number;
  average_duration: number;
  total_duration: number;
  by_status: Record<CallStatus, number>;
}

// What a set of logs adds to the stats, in sums: a count per status and the duration sums. A log
// contributes its current status and duration; a change of a log is the difference of its contributions,
// so the sums of many changes (negative counts included) are the contributions of the logs as they are now.
export interface StatsSums {
  counts: Partial<Record<CallStatus, number>>;
  total_duration: number;
  completed_duration: number;
  completed_with_duration: number;
}

export const emptySums = (): StatsSums => ({ counts: {}, total_duration: 0, completed_duration: 0, completed_with_duration: 0 });

export function sumsOf(log: { status: CallStatus; duration: number | null }): StatsSums {
  const duration = typeof log.duration === 'number' ? log.duration : null;
  const completed = log.status === 'completed' && duration !== null;
  return { counts: { [log.status]: 1 }, total_duration: duration ?? 0, completed_duration: completed ? duration : 0, completed_with_duration: completed ? 1 : 0 };
}

// into += sign × add
export function addSums(into: StatsSums, add: StatsSums, sign = 1): StatsSums {
  for (const [status, n] of Object.entries(add.counts) as Array<[CallStatus, number]>) {
    const sum = (into.counts[status] ?? 0) + sign * n;
    if (sum === 0) delete into.counts[status];
    else into.counts[status] = sum;
  }
  into.total_duration += sign * add.total_duration;
  into.completed_duration += sign * add.completed_duration;
  into.completed_with_duration += sign * add.completed_with_duration;
  return into;
}

export function isZeroSums(s: StatsSums): boolean {
  return Object.keys(s.counts).length === 0 && s.total_duration === 0 && s.completed_duration === 0 && s.completed_with_duration === 0;
}

const oneDecimal = (n: number) => Math.round(n * 10) / 10;

// Sums are done here, not in the database: FerretDB's $sum over a field returns 0.
export class CallStatsTally {
  private readonly counts = new Map<CallStatus, number>();
  private totalDuration = 0;
  private completedDuration = 0;
  private completedWithDuration = 0;

  add(status: CallStatus, duration: number | null, count = 1): void {
    this.counts.set(status, (this.counts.get(status) ?? 0) + count);
    if (duration === null) return;
    this.totalDuration += duration * count;
    if (status === 'completed') {
      this.completedDuration += duration * count;
      this.completedWithDuration += count;
    }
  }

  addSums(sums: StatsSums): void {
    for (const [status, n] of Object.entries(sums.counts) as Array<[CallStatus, number]>) this.counts.set(status, (this.counts.get(status) ?? 0) + n);
    this.totalDuration += sums.total_duration;
    this.completedDuration += sums.completed_duration;
    this.completedWithDuration += sums.completed_with_duration;
  }

  // success_rate: completed share of all calls in %, as the original module reported it.
  // average_duration: over completed calls that reported a duration (seconds).
  result(): CallStats {
    const by_status = Object.fromEntries(CALL_STATUSES.map((s) => [s, this.counts.get(s) ?? 0])) as Record<CallStatus, number>;
    const total = CALL_STATUSES.reduce((sum, s) => sum + by_status[s], 0);
    const failed = FAILED_CALL_STATUSES.reduce((sum, s) => sum + by_status[s], 0);
    return {
      total_calls: total,
      completed_calls: by_status.completed,
      failed_calls: failed,
      pending_calls: total - by_status.completed - failed,
      success_rate: total === 0 ? 0 : oneDecimal((by_status.completed / total) * 100),
      average_duration: this.completedWithDuration === 0 ? 0 : oneDecimal(this.completedDuration / this.completedWithDuration),
      total_duration: this.totalDuration,
      by_status,
    };
  }
}
