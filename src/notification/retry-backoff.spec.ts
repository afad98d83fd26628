import { maxAttempts, retryDelayAfter } from './retry-backoff';

describe('webhook retry backoff', () => {
  const schedule = [30_000, 120_000, 600_000, 3_600_000, 21_600_000];

  it('follows the configured schedule, then gives up', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayAfter(n, schedule))).toEqual([30_000, 120_000, 600_000, 3_600_000, 21_600_000, null]);
    expect(maxAttempts(schedule)).toBe(6);
    expect(retryDelayAfter(1, [])).toBeNull();
    expect(() => retryDelayAfter(0, schedule)).toThrow();
  });
});
