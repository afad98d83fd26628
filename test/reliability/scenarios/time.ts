import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { Cluster, RunContext, Scenario, call, fail, result, tokenFor } from '../lib/harness';
import { Rng } from '../lib/util';

const PROCESS_ZONES = ['UTC', 'Asia/Tokyo'];
const NY = 'America/New_York';
const LONDON = 'Europe/London';
const SYDNEY = 'Australia/Sydney';

// Wall times (no offset) around the 2027 transitions of each zone: a spring-forward gap, a fall-back
// overlap, the minute after the jump, and an ordinary time.
const WALL_TIMES: Array<{ zone: string; wall: string; kind: string }> = [
  { zone: NY, wall: '2027-03-14T02:30:00', kind: 'gap' },
  { zone: NY, wall: '2027-03-14T03:00:00', kind: 'after-gap' },
  { zone: NY, wall: '2027-11-07T01:30:00', kind: 'overlap' },
  { zone: NY, wall: '2027-06-01T09:00:00', kind: 'plain' },
  { zone: LONDON, wall: '2027-03-28T01:30:00', kind: 'gap' },
  { zone: LONDON, wall: '2027-10-31T01:30:00', kind: 'overlap' },
  { zone: LONDON, wall: '2027-07-01T12:00:00', kind: 'plain' },
  { zone: SYDNEY, wall: '2027-10-03T02:30:00', kind: 'gap' },
  { zone: SYDNEY, wall: '2027-04-04T02:30:00', kind: 'overlap' },
  { zone: SYDNEY, wall: '2027-01-15T08:00:00', kind: 'plain' },
];

// Recurrences whose first few occurrences cross a transition.
const RECURRENCES: Array<{ zone: string; start: string; cfg: Record<string, unknown>; daily?: [number, number] }> = [
  { zone: NY, start: '2027-03-12T02:30:00', cfg: { frequency: 'daily' }, daily: [2, 30] },
  { zone: NY, start: '2027-11-05T01:30:00', cfg: { frequency: 'daily' }, daily: [1, 30] },
  { zone: NY, start: '2027-03-13T22:00:00', cfg: { frequency: 'hourly' } },
  { zone: NY, start: '2027-11-06T22:15:00', cfg: { frequency: 'hourly', interval: 2 } },
  { zone: NY, start: '2027-02-28T02:30:00', cfg: { frequency: 'weekly' } },
  { zone: NY, start: '2027-01-14T02:30:00', cfg: { frequency: 'monthly' } },
  { zone: NY, start: '2027-03-13T00:00:00', cfg: { frequency: 'cron', cron: '0 * * * *' } },
  { zone: LONDON, start: '2027-03-26T01:30:00', cfg: { frequency: 'daily' }, daily: [1, 30] },
  { zone: LONDON, start: '2027-10-29T01:30:00', cfg: { frequency: 'daily' }, daily: [1, 30] },
  { zone: LONDON, start: '2027-10-30T00:00:00', cfg: { frequency: 'cron', cron: '30 1 * * *' } },
  { zone: SYDNEY, start: '2027-10-01T02:30:00', cfg: { frequency: 'daily' }, daily: [2, 30] },
  { zone: SYDNEY, start: '2027-04-02T02:30:00', cfg: { frequency: 'daily' }, daily: [2, 30] },
  { zone: SYDNEY, start: '2027-04-03T20:00:00', cfg: { frequency: 'hourly' } },
  { zone: SYDNEY, start: '2027-09-30T02:30:00', cfg: { frequency: 'daily', interval: 2 } },
];

// An independent reading of the documented DST rules (luxon, not the service's own code): a wall time
// in a gap is the transition instant, one in an overlap is its first instant.
export function expectedInstant(zone: string, y: number, mo: number, d: number, h: number, mi: number): string {
  const dt = DateTime.fromObject({ year: y, month: mo, day: d, hour: h, minute: mi }, { zone });
  if (dt.hour !== h || dt.minute !== mi) {
    let t = dt.toMillis() - 3 * 3600_000;
    const offsetAt = (ms: number) => DateTime.fromMillis(ms, { zone }).offset;
    while (offsetAt(t) === offsetAt(t + 60_000)) t += 60_000;
    return new Date(t + 60_000).toISOString();
  }
  const candidates = [-1, 0, 1].map((k) => dt.toMillis() + k * 3600_000).filter((ms) => {
    const local = DateTime.fromMillis(ms, { zone });
    return local.hour === h && local.minute === mi && local.day === d;
  });
  return new Date(Math.min(...candidates)).toISOString();
}

function wallParts(wall: string): [number, number, number, number, number] {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(wall)!;
  return [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])];
}

// Runs the service's compiled recurrence code in a child process with the given process time zone.
function computeIn(ctx: RunContext, tz: string): unknown {
  const script = `
    const rec = require(${JSON.stringify(join(ctx.distDir, 'schedule', 'recurrence', 'recurrence.js'))});
    const input = JSON.parse(process.argv[1]);
    const out = { tz: Intl.DateTimeFormat().resolvedOptions().timeZone, offset: new Date('2027-01-01T00:00:00Z').getTimezoneOffset(), walls: [], series: [] };
    for (const w of input.walls) out.walls.push(rec.resolveScheduledTime(w.wall, w.zone).toISOString());
    for (const r of input.recurrences) {
      const start = rec.resolveScheduledTime(r.start, r.zone);
      const compiled = rec.compileRecurrence(start, r.zone, Object.assign({ enabled: true }, r.cfg));
      const list = [];
      let next = rec.firstOccurrence(start, compiled);
      while (next && list.length < 8) { list.push(next.toISOString()); next = rec.nextOccurrence(compiled, next); }
      out.series.push({ cron: compiled.cron, list });
    }
    process.stdout.write(JSON.stringify(out));`;
  const stdout = execFileSync(process.execPath, ['-e', script, JSON.stringify({ walls: WALL_TIMES, recurrences: RECURRENCES })], {
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ctx.repoRoot, 'node_modules'), TZ: tz },
    encoding: 'utf8',
  });
  return JSON.parse(stdout);
}

// The same schedule computations with the process in UTC and in Asia/Tokyo, over the DST matrix of
// New York, London and Sydney: identical UTC instants, and the ones the documented rules give.
export const time: Scenario = {
  id: 10,
  name: 'time',
  async run(ctx: RunContext) {
    const r = result('time');
    const rng = new Rng(ctx.seed).fork(10);
    let compared = 0;
    const mismatches: string[] = [];

    // 1. The recurrence code itself, in two process zones.
    const outputs = PROCESS_ZONES.map((tz) => computeIn(ctx, tz) as { tz: string; offset: number; walls: string[]; series: Array<{ cron: string; list: string[] }> });
    if (outputs[0].offset === outputs[1].offset) fail(r, `the child processes did not run in different zones: ${outputs.map((o) => o.tz).join(', ')}`);
    for (const [i, w] of WALL_TIMES.entries()) {
      compared++;
      const expected = expectedInstant(w.zone, ...wallParts(w.wall));
      const got = outputs.map((o) => o.walls[i]);
      if (got.some((g) => g !== expected)) mismatches.push(`resolveScheduledTime(${w.wall}, ${w.zone}) [${w.kind}]: ${PROCESS_ZONES.map((z, k) => `${z}=${got[k]}`).join(' ')} expected ${expected}`);
    }
    for (const [i, rec] of RECURRENCES.entries()) {
      compared++;
      const [a, b] = outputs.map((o) => JSON.stringify(o.series[i]));
      if (a !== b) mismatches.push(`series ${rec.zone} ${rec.start} ${JSON.stringify(rec.cfg)} differs: UTC=${a} Tokyo=${b}`);
      if (!rec.daily) continue;
      // Daily series: one occurrence per local day, each at the wall time or where the rules put it.
      const [h, mi] = rec.daily;
      const step = Number(rec.cfg.interval ?? 1);
      const [y, mo, d] = wallParts(rec.start);
      const expected = Array.from({ length: 8 }, (_, k) => {
        const day = DateTime.fromObject({ year: y, month: mo, day: d }, { zone: 'UTC' }).plus({ days: k * step });
        return expectedInstant(rec.zone, day.year, day.month, day.day, h, mi);
      });
      if (JSON.stringify(outputs[0].series[i].list) !== JSON.stringify(expected)) {
        mismatches.push(`daily ${rec.zone} ${rec.start}: got ${JSON.stringify(outputs[0].series[i].list)} expected ${JSON.stringify(expected)}`);
      }
    }

    // 2. The API of two service processes, one per process zone: the same requests, the same answers.
    const answers: Array<Record<string, string>> = [];
    for (const tz of PROCESS_ZONES) {
      const cluster = await Cluster.start(ctx, { name: `time-${tz.replace('/', '-')}`, instances: 1, rng, env: { TZ: tz, SCHEDULER_ENABLED: 'false' } });
      try {
        const token = tokenFor(ctx, 'time-tenant');
        const got: Record<string, string> = {};
        const requests: Array<{ key: string; body: Record<string, unknown> }> = [
          ...WALL_TIMES.map((w) => ({ key: `one-time ${w.zone} ${w.wall}`, body: { phone: '+14155559001', scheduled_time: w.wall, timezone: w.zone } })),
          ...RECURRENCES.map((rc) => ({ key: `recurring ${rc.zone} ${rc.start} ${JSON.stringify(rc.cfg)}`, body: { phone: '+14155559002', scheduled_time: rc.start, timezone: rc.zone, repeat_config: { enabled: true, ...rc.cfg } } })),
          { key: 'instant Z', body: { phone: '+14155559003', scheduled_time: '2027-05-05T05:05:00Z', timezone: SYDNEY } },
          { key: 'instant +09:00', body: { phone: '+14155559003', scheduled_time: '2027-05-05T14:05:00+09:00', timezone: NY } },
          { key: 'default zone', body: { phone: '+14155559003', scheduled_time: '2027-05-05T05:05:00' } },
        ];
        for (const req of requests) {
          const res = await call(cluster.services[0].url, 'POST', '/schedule/', { token, json: req.body });
          got[req.key] = res.status === 200 ? `${res.json.next_execution} ${res.json.repeat_config?.compiled_cron ?? ''}`.trim() : `HTTP ${res.status} ${res.json?.error_code ?? ''}`;
        }
        answers.push(got);
      } finally {
        await cluster.stop();
      }
    }
    for (const key of Object.keys(answers[0])) {
      compared++;
      if (answers[0][key] !== answers[1][key]) mismatches.push(`API ${key}: UTC process=${answers[0][key]} Tokyo process=${answers[1][key]}`);
      if (answers[0][key].startsWith('HTTP')) mismatches.push(`API ${key} refused: ${answers[0][key]}`);
    }
    for (const w of WALL_TIMES) {
      const expected = expectedInstant(w.zone, ...wallParts(w.wall));
      const got = answers[0][`one-time ${w.zone} ${w.wall}`]?.split(' ')[0];
      if (got !== expected) mismatches.push(`API one-time ${w.zone} ${w.wall} [${w.kind}]: next_execution ${got}, expected ${expected}`);
    }
    if (answers[0]['instant Z'] !== answers[0]['instant +09:00']?.split(' ')[0] && answers[0]['instant Z']?.split(' ')[0] !== '2027-05-05T05:05:00.000Z') {
      mismatches.push(`instants with offsets differ: ${answers[0]['instant Z']} vs ${answers[0]['instant +09:00']}`);
    }

    r.occurrences = compared;
    r.lost = mismatches.length;
    r.details.mismatches = mismatches;
    r.details.api_answers = answers[0];
    if (mismatches.length > 0) fail(r, `${mismatches.length} mismatch(es): ${mismatches.slice(0, 5).join(' | ')}`);
    r.notes.push(`${WALL_TIMES.length} wall times and ${RECURRENCES.length} recurrences (8 occurrences each) in process zones ${PROCESS_ZONES.join(' and ')}, code and API: ${mismatches.length} mismatches`);
    return r;
  },
};
