import { isLockContention, retryOnLockContention } from '../../common/mongo/mongo-query';

// How long a run that owns a claim keeps trying through a database outage (a restart, a failover) before
// it gives the occurrence up to the reconciler.
export const TRANSIENT_RETRY_LIMIT_MS = 60_000;
const MAX_BACKOFF_MS = 5_000;

const CONNECTION_ERRORS = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoNotConnectedError',
  'MongoPoolClearedError',
  // A batch of inserts given up after no answer for minutes (insert-batcher.ts): applied or not, like the above.
  'BatchStalledError',
]);

// The database was unreachable: the write may or may not have been applied, so only writes that are
// safe to repeat (conditional updates, unique inserts, reads) are retried through this.
export function isTransientConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (CONNECTION_ERRORS.has(error.name)) return true;
  const labelled = error as Error & { hasErrorLabel?: (label: string) => boolean };
  if (typeof labelled.hasErrorLabel === 'function' && (labelled.hasErrorLabel('RetryableWriteError') || labelled.hasErrorLabel('ResetPool'))) return true;
  // mongoose's own message when a command waited for a connection that never came back.
  return /buffering timed out|ECONNREFUSED|ECONNRESET|connection .* closed|Client must be connected/i.test(error.message);
}

export async function retryTransient<T>(write: () => Promise<T>, limitMs = TRANSIENT_RETRY_LIMIT_MS): Promise<T> {
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await retryOnLockContention(write);
    } catch (error) {
      const waited = performance.now() - started;
      if (!(isTransientConnectionError(error) || isLockContention(error)) || waited >= limitMs) throw error;
      const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, Math.min(backoff, Math.max(0, limitMs - waited))));
    }
  }
}
