export const CALL_STATUSES = ['queued', 'initiated', 'ringing', 'in_progress', 'completed', 'busy', 'no_answer', 'failed', 'canceled', 'unknown'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];
export const FINAL_CALL_STATUSES: readonly CallStatus[] = ['completed', 'busy', 'no_answer', 'failed', 'canceled'];

// Progress only moves forward: a late "ringing" never overwrites "in_progress", and nothing leaves a final status.
const RANK: Record<CallStatus, number> = {
  unknown: 0,
  queued: 1,
  initiated: 2,
  ringing: 3,
  in_progress: 4,
  completed: 5,
  busy: 5,
  no_answer: 5,
  failed: 5,
  canceled: 5,
};

export function isFinalCallStatus(status: CallStatus): boolean {
  return FINAL_CALL_STATUSES.includes(status);
}

// Whether a report of `next` moves a call that is at `current` (the log write's own rule).
export function advancesTo(current: CallStatus, next: CallStatus): boolean {
  return RANK[current] < RANK[next];
}
