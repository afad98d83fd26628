import http from 'node:http';
import { Readable } from 'node:stream';
import { createTestApp, TestApp } from '../test/utils/test-app';
import { bearer, tokenFor } from '../test/utils/tokens';

// Campaign contact import (issue 7): 100,000 contacts streamed to POST /campaigns/{id}/contacts, as CSV
// and as JSON; reports wall time and the service process's peak RSS (the app runs in this process).
// Run: npx jest --runInBand --forceExit --testMatch '<rootDir>/bench/**/campaign-import.bench.ts'
const ROWS = Number(process.env.BENCH_CONTACT_ROWS ?? 100_000);
const ZONES = ['America/New_York', 'Europe/Berlin', 'Asia/Tokyo', ''];

function rows(count: number, format: 'csv' | 'json', base: number): Readable {
  let i = 0;
  let opened = false;
  return new Readable({
    read() {
      const out: string[] = [];
      if (!opened) {
        out.push(format === 'csv' ? 'phone,name,timezone,policy\n' : '[');
        opened = true;
      }
      for (let n = 0; n < 1000 && i < count; n++, i++) {
        const phone = `+1415${String(base + i).padStart(7, '0')}`;
        const zone = ZONES[i % ZONES.length];
        out.push(format === 'csv' ? `${phone},Contact ${i},${zone},P-${i}\n` : `${i ? ',' : ''}{"phone":"${phone}","name":"Contact ${i}"${zone ? `,"timezone":"${zone}"` : ''},"variables":{"policy":"P-${i}"}}`);
      }
      if (i >= count) {
        if (format === 'json') out.push(']');
        this.push(out.join(''));
        this.push(null);
      } else this.push(out.join(''));
    },
  });
}

function post(url: string, token: Record<string, string>, contentType: string, body: Readable): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...token, 'Content-Type': contentType } }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) }));
    });
    req.on('error', reject);
    body.pipe(req);
  });
}

describe('campaign contact import benchmark', () => {
  let t: TestApp;
  const token = bearer(tokenFor('bench-campaign'));
  beforeAll(async () => {
    t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false' } });
  });
  afterAll(() => t.close());

  for (const [format, base] of [['csv', 2_000_000], ['json', 3_000_000]] as const) {
    it(`imports ${ROWS} contacts as ${format}`, async () => {
      const created = await post(`${t.url}/campaigns`, token, 'application/json', Readable.from([JSON.stringify({ name: `bench ${format}` })]));
      const id = (created.json.campaign as { id: string }).id;
      global.gc?.();
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      const started = Date.now();
      const res = await post(`${t.url}/campaigns/${id}/contacts`, token, format === 'csv' ? 'text/csv' : 'application/json', rows(ROWS, format, base));
      const seconds = (Date.now() - started) / 1000;
      clearInterval(sampler);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ received: ROWS, accepted: ROWS, duplicate: 0, invalid: 0 });
      const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
      console.log(`campaign import ${format}: ${ROWS} contacts in ${seconds.toFixed(1)} s (${Math.round(ROWS / seconds)}/s); RSS baseline ${mb(baseline)} MiB, peak ${mb(peak)} MiB (+${mb(peak - baseline)} MiB)`);
    }, 30 * 60_000);
  }
});
