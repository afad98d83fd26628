import { mkdirSync, writeFileSync } from 'node:fs';
import { runPacing } from '../test/utils/pacing-run';

// Pacing precision (issue 4): 10x CALLS_PER_SECOND calls due at one instant on two instances, dialed
// through the fake Twilio; figures come from the fake's arrival times. Run: npm run bench:pacing
describe('pacing benchmark', () => {
  it.each([5, 50])('CALLS_PER_SECOND=%i', async (cps) => {
    const figures = await runPacing(cps, cps * 10, 2);
    console.log(JSON.stringify(figures));
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/pacing-${cps}-${Date.now()}.json`, JSON.stringify(figures, null, 2));
    expect(figures.calls).toBe(cps * 10);
  }, 900_000);
});
