import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { DncService } from '../src/dnc/dnc.service';
import { createTestApp, TestApp } from '../test/utils/test-app';
import { bearer, tokenFor } from '../test/utils/tokens';

// DNC bulk import (issue 7): 100,000 CSV rows streamed to POST /dnc/import; reports wall time, the
// service process's peak RSS while importing (the app runs in this process), and dial-time lookups
// against the full list. Run: npx jest --runInBand --forceExit --testMatch '<rootDir>/bench/**/dnc-import.bench.ts'
const ROWS = Number(process.env.BENCH_DNC_ROWS ?? 100_000);

function csvRows(count: number): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i === 0) this.push('phone,reason\n');
      const lines: string[] = [];
      for (let n = 0; n < 1000 && i < count; n++, i++) lines.push(`+1212${String(2000000 + i).padStart(7, '0')},bench row ${i}`);
      this.push(lines.length ? lines.join('\n') + '\n' : null);
    },
  });
}

function post(url: string, token: Record<string, string>, body: Readable): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/dnc/import`, { method: 'POST', headers: { ...token, 'Content-Type': 'text/csv' } }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) }));
    });
    req.on('error', reject);
    body.pipe(req);
  });
}

describe('DNC import benchmark', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false' } });
  });
  afterAll(() => t.close());

  it(`imports ${ROWS} CSV rows`, async () => {
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = Date.now();
    const res = await post(t.url, bearer(tokenFor('bench-dnc')), csvRows(ROWS));
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    expect(res.status).toBe(200);
    expect(res.json.accepted).toBe(ROWS);

    const dnc = t.get<DncService>(DncService);
    const lookups = 200;
    let t0 = Date.now();
    for (let i = 0; i < lookups; i++) await dnc.isBlocked('bench-dnc', `+1212${String(2000000 + i * 37).padStart(7, '0')}`);
    const isBlockedMs = (Date.now() - t0) / lookups;
    const batch = Array.from({ length: 1000 }, (_, i) => `+1212${String(2000000 + i * 53).padStart(7, '0')}`);
    t0 = Date.now();
    const found = await dnc.findBlocked('bench-dnc', batch);
    const findBlockedMs = Date.now() - t0;
    expect(found.size).toBe(batch.length);

    const figures = {
      rows: ROWS,
      seconds,
      rows_per_second: Math.round(ROWS / seconds),
      rss_baseline_mb: Math.round(baseline / 1048576),
      rss_peak_mb: Math.round(peak / 1048576),
      rss_growth_mb: Math.round((peak - baseline) / 1048576),
      is_blocked_ms: Number(isBlockedMs.toFixed(1)),
      find_blocked_1000_ms: findBlockedMs,
      engine: process.env.TEST_MONGODB_URI,
    };
    console.log(JSON.stringify(figures));
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/dnc-import-${Date.now()}.json`, JSON.stringify(figures, null, 2));
  }, 1_800_000);
});
