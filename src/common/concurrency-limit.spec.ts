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

  it('holds a task of weight n until n slots are free, in arrival order', async () => {
    const limit = new ConcurrencyLimit(4);
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const task = (name: string) => () =>
      new Promise<string>((resolve) => {
        started.push(name);
        gates.set(name, () => resolve(name));
      });
    const a = limit.run(task('a'), 3);
    const b = limit.run(task('b'), 2);
    // c would fit beside a, but b came first.
    const c = limit.run(task('c'), 1);
    await tick(0);
    expect(started).toEqual(['a']);
    expect(limit.queued).toBe(2);
    gates.get('a')!();
    await a;
    await tick(0);
    expect(started).toEqual(['a', 'b', 'c']);
    gates.get('b')!();
    gates.get('c')!();
    await expect(Promise.all([b, c])).resolves.toEqual(['b', 'c']);
    expect(limit.queued).toBe(0);
  });
});
