import { loadConfig } from './load-config';

const SECRET = 'x'.repeat(32);

describe('CALLS_MIN_GAP_MS', () => {
  it('defaults to no gap and takes a gap in milliseconds', () => {
    expect(loadConfig({ JWT_SECRET: SECRET }).dialing.minGapMs).toBe(0);
    expect(loadConfig({ JWT_SECRET: SECRET, CALLS_MIN_GAP_MS: '2000' }).dialing.minGapMs).toBe(2000);
  });

  it('rejects a negative, fractional or non-numeric gap at startup', () => {
    for (const bad of ['-1', '1.5', 'two seconds']) expect(() => loadConfig({ JWT_SECRET: SECRET, CALLS_MIN_GAP_MS: bad })).toThrow(/CALLS_MIN_GAP_MS/);
  });
});
