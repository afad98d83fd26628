import { mkdirSync, writeFileSync } from 'node:fs';
import { runPacing } from '../test/utils/pacing-run';

// Pacing precision (issue 4): 10x CALLS_PER_SECOND calls due at one instant on two instances, dialed
// through the fake Twilio; figures come from the fake's arrival times. Run: npm run bench:pacing
describe('pacing benchmark', () => {
  // BENCH_PACING_CALLS overrides the 10x count (the embedded FerretDB cannot create 500 schedules quickly).
  it.each([5, 50])('CALLS_PER_SECOND=%i', async (cps) => {
    const figures = await runPacing(cps, Number(process.env.BENCH_PACING_CALLS ?? cps * 10), 2);
    console.log(JSON.stringify(figures));
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/pacing-${cps}-${Date.now()}.json`, JSON.stringify(figures, null, 2));
    expect(figures.dialed).toBeGreaterThan(0);
  }, 900_000);
});
