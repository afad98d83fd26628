// After the n-th failed attempt (1-based) the next try waits delays[n-1]; past the schedule the delivery is dead.
export function retryDelayAfter(failedAttempts: number, delaysMs: readonly number[]): number | null {
  if (!Number.isInteger(failedAttempts) || failedAttempts < 1) throw new Error(`failedAttempts must be a positive integer, got ${failedAttempts}`);
  return failedAttempts <= delaysMs.length ? delaysMs[failedAttempts - 1] : null;
}

export function maxAttempts(delaysMs: readonly number[]): number {
  return delaysMs.length + 1;
}
