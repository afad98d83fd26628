import { getModelToken } from '@nestjs/mongoose';
import { DateTime } from 'luxon';
import { Model, Types } from 'mongoose';
import request from 'supertest';
import { CALL_STATUSES, CallStatus } from '../../src/tracking/call-status';
import { CallStatsFoldJob } from '../../src/tracking/call-stats-fold.job';
import { CallLogDoc } from '../../src/tracking/schemas/call-log.schema';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

interface Seeded {
  id: string;
  tenant_id: string;
  user_profile_id: string | null;
  schedule_id: string;
  phone: string;
  status: CallStatus;
  duration: number | null;
  timestamp: Date;
}

// Deterministic pseudo-random data: the same 1,000 logs on every run.
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const TENANT_A = 'tenant-a';
const TENANT_B = 'tenant-b';
const userA = bearer(tokenFor('alice', { tenantId: TENANT_A }));
const userB = bearer(tokenFor('bob', { tenantId: TENANT_B }));
const admin = bearer(tokenFor('root', { roles: ['admin'] }));
const PHONES = ['+14155552671', '+442071838750', '+81312345678'];
const PROFILES = ['up-1', 'up-2', 'up-3', null];
const SCHEDULES = Array.from({ length: 5 }, () => new Types.ObjectId().toHexString());
const SEED_START = Date.parse('2025-03-01T00:00:00.000Z');
const FAILED: CallStatus[] = ['busy', 'no_answer', 'failed', 'canceled'];

// The test's own arithmetic for the stats contract, written independently of the service.
function expectedStats(rows: Seeded[]) {
  const total = rows.length;
  const completed = rows.filter((r) => r.status === 'completed');
  const failed = rows.filter((r) => FAILED.includes(r.status)).length;
  const completedDurations = completed.map((r) => r.duration).filter((d): d is number => d !== null);
  const totalDuration = rows.reduce((sum, r) => sum + (r.duration ?? 0), 0);
  return {
    total_calls: total,
    completed_calls: completed.length,
    failed_calls: failed,
    pending_calls: total - completed.length - failed,
    // Integer arithmetic, rounded half up to one decimal.
    success_rate: total ? Math.round((completed.length * 1000) / total) / 10 : 0,
    average_duration: completedDurations.length ? Math.round((completedDurations.reduce((a, b) => a + b, 0) * 10) / completedDurations.length) / 10 : 0,
    total_duration: totalDuration,
  };
}

const byStatus = (rows: Seeded[]) => Object.fromEntries(CALL_STATUSES.map((s) => [s, rows.filter((r) => r.status === s).length]));
const newestFirst = (a: Seeded, b: Seeded) => b.timestamp.getTime() - a.timestamp.getTime() || (a.id < b.id ? 1 : -1);

describe('tracking API (e2e)', () => {
  let t: TestApp;
  const seeded: Seeded[] = [];
  const http = () => request(t.app.getHttpServer());
  const ofTenant = (tenant: string) => seeded.filter((r) => r.tenant_id === tenant);

  beforeAll(async () => {
    // Callbacks 100 ms apart: on FerretDB the dispatcher's own write after placing the call must land
    // before the first callback, since concurrent updates of one document there lose each other.
    t = await createTestApp({ env: { SIMULATOR_STEP_MS: '100' } });
    const model = t.get<Model<CallLogDoc>>(getModelToken(CallLogDoc.name));
    const rnd = prng(20250301);
    const docs = Array.from({ length: 1000 }, (_, i) => {
      const status = CALL_STATUSES[Math.floor(rnd() * CALL_STATUSES.length)];
      // Plain JS integers: stored as int32, the case FerretDB's $sum gets wrong.
      const duration = status === 'completed' ? (i % 17 === 0 ? null : 1 + Math.floor(rnd() * 600)) : FAILED.includes(status) ? (rnd() < 0.5 ? 0 : null) : null;
      // Pairs share a timestamp so paging must break ties; spread over ~30 days.
      const timestamp = new Date(SEED_START + Math.floor(i / 2) * 5_184_000 + Math.floor(rnd() * 1000));
      return {
        _id: new Types.ObjectId(),
        tenant_id: i % 5 < 3 ? TENANT_A : TENANT_B,
        created_by: i % 5 < 3 ? 'alice' : 'bob',
        user_profile_id: PROFILES[i % PROFILES.length],
        agent_instance_id: i % 3 === 0 ? 'agent-1' : null,
        schedule_id: SCHEDULES[i % SCHEDULES.length],
        occurrence_at: timestamp,
        call_id: `CA${i.toString(16).padStart(32, '0')}`,
        provider: 'simulated',
        status,
        call_type: 'outbound',
        phone: PHONES[i % PHONES.length],
        timestamp,
        start_time: status === 'completed' ? timestamp : null,
        end_time: duration !== null ? new Date(timestamp.getTime() + duration * 1000) : null,
        duration,
        notes: i % 10 === 0 ? `note ${i}` : null,
        metadata: { i },
        attempt_number: 1,
        answered_by: status === 'completed' ? 'human' : null,
        error_code: status === 'failed' ? '31005' : null,
        error_message: null,
        timeline: [{ status: 'queued', ts: timestamp, received_at: timestamp, sequence_number: null, source: 'dispatcher', provider_status: null }],
        last_updated: timestamp,
      };
    });
    // Same-timestamp pairs get their ids in reverse order half of the time, so _id order is not insertion order.
    for (let i = 0; i + 1 < docs.length; i += 4) [docs[i]._id, docs[i + 1]._id] = [docs[i + 1]._id, docs[i]._id];
    for (let i = 0; i < docs.length; i += 250) await model.insertMany(docs.slice(i, i + 250));
    // Stored behind the service's back, like logs of a version before the hourly stats: the catch-up counts them.
    await t.get<CallStatsFoldJob>(CallStatsFoldJob).catchUp();
    for (const d of docs) {
      seeded.push({ id: d._id.toHexString(), tenant_id: d.tenant_id, user_profile_id: d.user_profile_id, schedule_id: d.schedule_id, phone: d.phone, status: d.status, duration: d.duration, timestamp: d.timestamp });
    }
  }, 120_000);
  afterAll(() => t.close());

  describe('stats', () => {
    it('matches the numbers computed from the seeded data for a tenant (int32 durations included)', async () => {
      const res = await http().get('/schedule/tracking/stats').set(userA).expect(200);
      const rows = ofTenant(TENANT_A);
      expect(res.body).toEqual({ status: 'success', ...expectedStats(rows), by_status: byStatus(rows), timezone: 'UTC' });
      expect(res.body.total_duration).toBeGreaterThan(0);
      expect(res.body.total_calls).toBe(res.body.completed_calls + res.body.failed_calls + res.body.pending_calls);
    });

    it('applies date range, user profile, schedule and phone filters (phone in any valid notation)', async () => {
      const rows = ofTenant(TENANT_A);
      const cases: Array<[Record<string, string>, (r: Seeded) => boolean]> = [
        [{ user_profile_id: 'up-2' }, (r) => r.user_profile_id === 'up-2'],
        [{ schedule_id: SCHEDULES[1] }, (r) => r.schedule_id === SCHEDULES[1]],
        [{ phone: '+1 (415) 555-2671' }, (r) => r.phone === '+14155552671'],
        // Date-only bounds are whole UTC days, end_date inclusive.
        [{ start_date: '2025-03-05', end_date: '2025-03-10' }, (r) => r.timestamp >= new Date('2025-03-05T00:00:00Z') && r.timestamp < new Date('2025-03-11T00:00:00Z')],
        [
          { start_date: '2025-03-12T06:30:00Z', end_date: '2025-03-20T18:00:00.000+02:00' },
          (r) => r.timestamp >= new Date('2025-03-12T06:30:00Z') && r.timestamp <= new Date('2025-03-20T16:00:00Z'),
        ],
        [{ start_date: '2025-03-15', user_profile_id: 'up-1', phone: '+442071838750' }, (r) => r.timestamp >= new Date('2025-03-15T00:00:00Z') && r.user_profile_id === 'up-1' && r.phone === '+442071838750'],
      ];
      for (const [query, keep] of cases) {
        const res = await http().get('/schedule/tracking/stats').query(query).set(userA).expect(200);
        const expected = rows.filter(keep);
        expect(expected.length).toBeGreaterThan(0);
        expect({ query, ...res.body }).toEqual({ query, status: 'success', ...expectedStats(expected), by_status: byStatus(expected), timezone: 'UTC' });
      }
    });

    it('buckets by day in UTC or in the requested timezone, and the days add up to the totals', async () => {
      const rows = ofTenant(TENANT_B);
      // Kolkata is half an hour off UTC: its days do not fall on the hourly sums' edges.
      for (const timezone of ['UTC', 'Asia/Tokyo', 'America/Los_Angeles', 'Asia/Kolkata']) {
        const res = await http().get('/schedule/tracking/stats').query({ group_by: 'day', timezone }).set(userB).expect(200);
        const days = new Map<string, Seeded[]>();
        for (const r of rows) {
          const day = DateTime.fromJSDate(r.timestamp, { zone: timezone }).toFormat('yyyy-MM-dd');
          days.set(day, [...(days.get(day) ?? []), r]);
        }
        const expectedDays = [...days.keys()].sort().map((date) => ({ date, ...expectedStats(days.get(date) as Seeded[]) }));
        expect(res.body).toEqual({ status: 'success', ...expectedStats(rows), by_status: byStatus(rows), timezone, by_day: expectedDays });
        expect(res.body.by_day.reduce((n: number, d: { total_calls: number }) => n + d.total_calls, 0)).toBe(rows.length);
      }
    });

    it('interprets date-only bounds in the requested timezone', async () => {
      const rows = ofTenant(TENANT_A);
      const from = DateTime.fromISO('2025-03-08', { zone: 'Asia/Tokyo' }).toJSDate();
      const to = DateTime.fromISO('2025-03-09', { zone: 'Asia/Tokyo' }).plus({ days: 1 }).toJSDate();
      const res = await http().get('/schedule/tracking/stats').query({ start_date: '2025-03-08', end_date: '2025-03-09', timezone: 'Asia/Tokyo', group_by: 'day' }).set(userA).expect(200);
      const expected = rows.filter((r) => r.timestamp >= from && r.timestamp < to);
      expect(res.body.total_calls).toBe(expected.length);
      expect(res.body.by_day.map((d: { date: string }) => d.date)).toEqual(['2025-03-08', '2025-03-09']);
    });

    it('answers zeros when nothing matches', async () => {
      const res = await http().get('/schedule/tracking/stats').query({ start_date: '2030-01-01' }).set(userA).expect(200);
      expect(res.body).toMatchObject({ total_calls: 0, completed_calls: 0, failed_calls: 0, pending_calls: 0, success_rate: 0, average_duration: 0, total_duration: 0 });
    });
  });

  describe('logs', () => {
    it('pages newest first with a stable total, and the pages add up to the whole filtered set', async () => {
      const expected = ofTenant(TENANT_A).filter((r) => r.status === 'completed').sort(newestFirst);
      const ids: string[] = [];
      for (let offset = 0; offset < expected.length; offset += 37) {
        const res = await http().get('/schedule/tracking/logs').query({ status: 'completed', limit: 37, offset }).set(userA).expect(200);
        expect(res.body).toMatchObject({ status: 'success', total: expected.length, limit: 37, offset });
        ids.push(...res.body.logs.map((l: { id: string }) => l.id));
      }
      expect(ids).toEqual(expected.map((r) => r.id));
    });

    it('pages by cursor through the same logs in the same order, and the last page says there is no more', async () => {
      const expected = ofTenant(TENANT_A).filter((r) => r.status === 'completed').sort(newestFirst);
      const ids: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page === 0 || (cursor && page < 100); page++) {
        const res: request.Response = await http()
          .get('/schedule/tracking/logs')
          .query({ status: 'completed', limit: 37, ...(cursor ? { cursor } : {}) })
          .set(userA)
          .expect(200);
        expect(res.body).toMatchObject({ status: 'success', total: expected.length, limit: 37, offset: 0 });
        ids.push(...res.body.logs.map((l: { id: string }) => l.id));
        cursor = res.body.next_cursor;
        if (res.body.logs.length < 37) expect(cursor).toBeNull();
      }
      expect(ids).toEqual(expected.map((r) => r.id));
    });

    it('defaults to 50, caps at 500 and returns the documented fields', async () => {
      const all = ofTenant(TENANT_A).sort(newestFirst);
      const first = await http().get('/schedule/tracking/logs').set(userA).expect(200);
      expect(first.body).toMatchObject({ total: all.length, limit: 50, offset: 0 });
      expect(first.body.logs.map((l: { id: string }) => l.id)).toEqual(all.slice(0, 50).map((r) => r.id));
      const max = await http().get('/schedule/tracking/logs').query({ limit: 500, offset: 100 }).set(userA).expect(200);
      expect(max.body.logs.map((l: { id: string }) => l.id)).toEqual(all.slice(100, 600).map((r) => r.id));
      expect(Object.keys(first.body.logs[0]).sort()).toEqual(
        [
          'id', 'created_by', 'user_profile_id', 'agent_instance_id', 'schedule_id', 'call_id', 'status', 'call_type', 'phone', 'timestamp',
          'start_time', 'end_time', 'duration', 'notes', 'metadata', 'attempt_number', 'answered_by', 'error_code', 'error_message', 'timeline',
        ].sort(),
      );
      expect(first.body.logs[0].timeline[0]).toEqual({ status: 'queued', ts: expect.any(String), received_at: expect.any(String), sequence_number: null, source: 'dispatcher', provider_status: null });
    });

    it('filters by status, user profile, schedule, phone and dates together', async () => {
      const query = { status: 'busy', user_profile_id: 'up-3', phone: '+44 20 7183 8750', start_date: '2025-03-03', end_date: '2025-03-25', limit: '500' };
      const expected = ofTenant(TENANT_A)
        .filter((r) => r.status === 'busy' && r.user_profile_id === 'up-3' && r.phone === '+442071838750')
        .filter((r) => r.timestamp >= new Date('2025-03-03T00:00:00Z') && r.timestamp < new Date('2025-03-26T00:00:00Z'))
        .sort(newestFirst);
      const res = await http().get('/schedule/tracking/logs').query(query).set(userA).expect(200);
      expect(res.body.total).toBe(expected.length);
      expect(res.body.logs.map((l: { id: string }) => l.id)).toEqual(expected.map((r) => r.id));
      const bySchedule = await http().get('/schedule/tracking/logs').query({ schedule_id: SCHEDULES[3], limit: 500 }).set(userA).expect(200);
      expect(bySchedule.body.total).toBe(ofTenant(TENANT_A).filter((r) => r.schedule_id === SCHEDULES[3]).length);
    });

    it.each([
      ['start_date=yesterday', 'VALIDATION_001', 'start_date'],
      ['start_date=2025-02-30', 'VALIDATION_001', 'start_date'],
      ['end_date=2025-03-01T10:00:00', 'VALIDATION_001', 'end_date'],
      ['start_date=2025-03-10&end_date=2025-03-01', 'TRACKING_001', 'end_date'],
      ['limit=0', 'VALIDATION_001', 'limit'],
      ['limit=501', 'VALIDATION_001', 'limit'],
      ['limit=ten', 'VALIDATION_001', 'limit'],
      ['offset=-1', 'VALIDATION_001', 'offset'],
      ['cursor=not*a*cursor', 'VALIDATION_001', 'cursor'],
      ['cursor=anVuaw', 'VALIDATION_001', 'cursor'],
      ['cursor=MTcwMDAwMDAwMDAwMC42NTAwMDAwMDAwMDAwMDAwMDAwMDAwMDA&offset=5', 'VALIDATION_001', 'offset'],
      ['status=done', 'VALIDATION_001', 'status'],
      ['status=completed&status=busy', 'VALIDATION_001', 'status'],
      ['verbose=1', 'VALIDATION_003', 'verbose'],
      ['phone[$ne]=', 'VALIDATION_003', 'phone[$ne]'],
      ['phone=12345', 'SCHEDULE_001', 'phone'],
      ['schedule_id=abc', 'VALIDATION_006', 'schedule_id'],
      ['timezone=Mars/Olympus', 'SCHEDULE_002', 'timezone'],
    ])('rejects logs?%s with 400 %s', async (qs, code, field) => {
      const res = await http().get(`/schedule/tracking/logs?${qs}`).set(userA);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 'error', error_code: code, details: { field } });
    });

    it.each([
      ['group_by=week', 'VALIDATION_001'],
      ['status=completed', 'VALIDATION_003'],
      ['limit=10', 'VALIDATION_003'],
      ['user_profile_id[$gt]=', 'VALIDATION_003'],
      ['end_date=nope', 'VALIDATION_001'],
    ])('rejects stats?%s with 400 %s', async (qs, code) => {
      const res = await http().get(`/schedule/tracking/stats?${qs}`).set(userA);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 'error', error_code: code });
    });

    it('requires a token', async () => {
      await http().get('/schedule/tracking/logs').expect(401);
      await http().get('/schedule/tracking/stats').expect(401);
    });
  });

  describe('tenant isolation', () => {
    it("never shows a user another tenant's logs or stats, whatever the filter", async () => {
      const bRows = ofTenant(TENANT_B);
      const logs = await http().get('/schedule/tracking/logs').query({ limit: 500 }).set(userB).expect(200);
      expect(logs.body.total).toBe(bRows.length);
      expect(new Set(logs.body.logs.map((l: { id: string }) => l.id))).toEqual(new Set(bRows.sort(newestFirst).slice(0, 500).map((r) => r.id)));
      // Asking A's data by A's schedule/profile from B's token still only yields B's rows.
      const aSchedule = ofTenant(TENANT_A)[0].schedule_id;
      const filtered = await http().get('/schedule/tracking/logs').query({ schedule_id: aSchedule, limit: 500 }).set(userB).expect(200);
      expect(filtered.body.total).toBe(bRows.filter((r) => r.schedule_id === aSchedule).length);
      const aIds = new Set(ofTenant(TENANT_A).map((r) => r.id));
      expect(filtered.body.logs.some((l: { id: string }) => aIds.has(l.id))).toBe(false);
      const stats = await http().get('/schedule/tracking/stats').set(userB).expect(200);
      expect(stats.body).toMatchObject(expectedStats(bRows));
      const stranger = await http().get('/schedule/tracking/stats').set(bearer(tokenFor('carol', { tenantId: 'tenant-c' }))).expect(200);
      expect(stranger.body.total_calls).toBe(0);
    });

    it('lets an admin see every tenant', async () => {
      const range = { start_date: '2025-03-01', end_date: '2025-04-30' };
      const stats = await http().get('/schedule/tracking/stats').query(range).set(admin).expect(200);
      expect(stats.body).toMatchObject(expectedStats(seeded));
      const logs = await http().get('/schedule/tracking/logs').query({ ...range, limit: 500, offset: 500 }).set(admin).expect(200);
      expect(logs.body.total).toBe(1000);
      expect(logs.body.logs.map((l: { id: string }) => l.id)).toEqual([...seeded].sort(newestFirst).slice(500).map((r) => r.id));
    });
  });

  it('routes /schedule/tracking/* to the tracking controller, not to GET /schedule/:id', async () => {
    const logs = await http().get('/schedule/tracking/logs?limit=1').set(userA).expect(200);
    expect(logs.body).toHaveProperty('logs');
    const stats = await http().get('/schedule/tracking/stats').set(userA).expect(200);
    expect(stats.body).toHaveProperty('total_calls');
    const byId = await http().get(`/schedule/${new Types.ObjectId().toHexString()}`).set(userA).expect(404);
    expect(byId.body.error_code).toBe('SCHEDULE_009');
  });

  it('shows a call placed through the simulated provider with its full timeline, and counts it', async () => {
    const owner = bearer(tokenFor('erin', { tenantId: 'tenant-e2e' }));
    const created = await http()
      .post('/schedule/')
      .set(owner)
      .send({ phone: '+1 415 555 2671', scheduled_time: new Date(Date.now() + 1500).toISOString(), user_profile_id: 'up-e2e' })
      .expect(200);
    const scheduleId = created.body.schedule_id as string;
    const log = await waitFor(async () => {
      const res = await http().get('/schedule/tracking/logs').query({ schedule_id: scheduleId }).set(owner).expect(200);
      return res.body.logs[0]?.status === 'completed' ? res.body.logs[0] : null;
    }, 30_000);
    expect(log).toMatchObject({ schedule_id: scheduleId, phone: '+14155552671', user_profile_id: 'up-e2e', created_by: 'erin', duration: 42, answered_by: 'human', attempt_number: 1 });
    expect(log.call_id).toMatch(/^[A-Z]{2}[0-9a-f]{32}$/);
    expect(new Date(log.end_time).getTime()).toBeGreaterThanOrEqual(new Date(log.start_time).getTime());
    const callbacks = log.timeline.filter((e: { source: string }) => e.source === 'simulator').map((e: { status: string }) => e.status);
    expect([...callbacks].sort()).toEqual(['completed', 'in_progress', 'initiated', 'ringing']);

    const stats = await http().get('/schedule/tracking/stats').query({ schedule_id: scheduleId }).set(owner).expect(200);
    expect(stats.body).toMatchObject({ total_calls: 1, completed_calls: 1, failed_calls: 0, pending_calls: 0, success_rate: 100, average_duration: 42, total_duration: 42 });
    const mine = await http().get('/schedule/tracking/stats').set(owner).expect(200);
    expect(mine.body.total_calls).toBe(1);
  });
});
