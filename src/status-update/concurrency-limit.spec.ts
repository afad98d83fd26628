import { ConcurrencyLimit } from './concurrency-limit';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ConcurrencyLimit', () => {
  it('never runs more than max tasks at once, runs them all, and survives failures', async () => {
    const limit = new ConcurrencyLimit(2);
    let running = 0;
    let peak = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 7 }, (_, i) =>
        limit.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await tick(5 + (i % 3) * 5);
          running--;
          if (i === 3) throw new Error('task 3 failed');
          return i;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'))).toEqual([0, 1, 2, 'failed', 4, 5, 6]);
    expect(limit.queued).toBe(0);
    await expect(limit.run(async () => 'after')).resolves.toBe('after');
  });
});
