import { busiestOneSecondWindow, runPacing } from '../utils/pacing-run';

describe('pacing to CALLS_PER_SECOND across instances', () => {
  it('counts the busiest one-second window over sliding windows', () => {
    expect(busiestOneSecondWindow([0, 100, 999, 1000, 1001, 2500])).toBe(4);
    expect(busiestOneSecondWindow([])).toBe(0);
  });

  it('with CALLS_PER_SECOND=5 and 50 calls due together on two instances, no one-second window holds more than 5 requests', async () => {
    // Two instances and the fake provider share this one process, beside a full parallel test run: its
    // requests arrive later by more than the default headroom absorbs (the bench, on a quiet machine,
    // measures the default's). The headroom is a deployment's setting; this checks the slots hold it.
    const figures = await runPacing(5, 50, 2, { CALLS_RATE_HEADROOM_PERCENT: '8' });
    expect(figures.busiestWindow).toBeLessThanOrEqual(5);
    // Every call is placed: waiting calls are not dropped.
    expect(figures.dialed).toBe(50);
  }, 240_000);

  it("with CALLS_MIN_GAP_MS=2000 (seed 002's spacing) and 4 calls due together on two instances, requests reach the provider at least 2 s apart", async () => {
    const figures = await runPacing(1, 4, 2, { CALLS_MIN_GAP_MS: '2000' });
    expect(figures.dialed).toBe(4);
    const gaps = figures.times.slice(1).map((t, i) => t - figures.times[i]);
    expect(gaps).toHaveLength(3);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(2000);
  }, 240_000);
});
