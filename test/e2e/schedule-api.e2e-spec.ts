import { getConnectionToken } from '@nestjs/mongoose';
import { Connection, Types } from 'mongoose';
import request from 'supertest';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

describe('schedule API (e2e)', () => {
  let t: TestApp;
  const alice = bearer(tokenFor('alice'));
  const bob = bearer(tokenFor('bob'));
  const admin = bearer(tokenFor('root', { roles: ['admin'] }));
  const http = () => request(t.app.getHttpServer());
  const create = (body: Record<string, unknown>, who = alice) => http().post('/schedule/').set(who).send({ phone: '+14155552671', scheduled_time: inMinutes(30), ...body });

  beforeAll(async () => {
    t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false' } });
  });
  afterAll(() => t.close());

  describe('validation', () => {
    const cases: Array<[string, Record<string, unknown>, string, string]> = [
      ['an invalid phone', { phone: '12345' }, 'SCHEDULE_001', 'phone'],
      ['a phone given as an object (operator injection)', { phone: { $ne: null } }, 'SCHEDULE_001', 'phone'],
      ['an unknown timezone', { timezone: 'Mars/Olympus' }, 'SCHEDULE_002', 'timezone'],
      ['an unparsable scheduled_time', { scheduled_time: 'next tuesday-ish' }, 'SCHEDULE_003', 'scheduled_time'],
      ['a scheduled_time in the past', { scheduled_time: '2020-01-01T10:00:00Z' }, 'SCHEDULE_004', 'scheduled_time'],
      ['a bad cron', { repeat_config: { enabled: true, frequency: 'cron', cron: '61 * * * *' } }, 'SCHEDULE_005', 'repeat_config.cron'],
      ['a cron with seconds', { repeat_config: { enabled: true, frequency: 'cron', cron: '0 0 9 * * *' } }, 'SCHEDULE_005', 'repeat_config.cron'],
      ['an end_date before the start', { repeat_config: { enabled: true, frequency: 'daily', end_date: '2021-01-01T00:00:00Z' } }, 'SCHEDULE_006', 'repeat_config.end_date'],
      ['an unknown frequency', { repeat_config: { enabled: true, frequency: 'fortnightly' } }, 'SCHEDULE_007', 'repeat_config.frequency'],
      ['a misfire policy that does not exist', { misfire_policy: 'retry_forever' }, 'VALIDATION_001', 'misfire_policy'],
      ['an unknown field', { priority_lane: 'vip' }, 'VALIDATION_003', 'priority_lane'],
      ['metadata with an operator key', { metadata: { $where: 'sleep(1000)' } }, 'SCHEDULE_008', 'metadata.$where'],
      ['metadata over the size limit', { metadata: { blob: 'x'.repeat(20_000) } }, 'SCHEDULE_008', 'metadata'],
      // PostgreSQL-backed stores cannot hold NUL: refused up front rather than failing the write with a 500.
      ['notes with a NUL character', { notes: 'call\u0000back' }, 'VALIDATION_001', 'notes'],
      ['metadata with a NUL character in a value', { metadata: { note: 'a\u0000b' } }, 'VALIDATION_001', 'metadata.note'],
    ];

    it.each(cases)('rejects %s', async (_name, body, code, field) => {
      const res = await create(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 'error', error_code: code, details: { field } });
      expect(typeof res.body.details.issue).toBe('string');
      expect(typeof res.body.timestamp).toBe('string');
    });

    it('rejects a missing field with its name', async () => {
      const res = await http().post('/schedule/').set(alice).send({ phone: '+14155552671' }).expect(400);
      expect(res.body).toMatchObject({ error_code: 'VALIDATION_002', details: { field: 'scheduled_time' } });
    });

    it('rejects malformed JSON in the error body', async () => {
      const res = await http().post('/schedule/').set(alice).set('content-type', 'application/json').send('{"phone":').expect(400);
      expect(res.body).toMatchObject({ status: 'error', error_code: 'VALIDATION_004' });
    });

    it('refuses an operator-shaped query parameter instead of querying with it', async () => {
      const res = await http().get('/schedule?phone[$ne]=x').set(alice).expect(400);
      expect(res.body).toMatchObject({ status: 'error', error_code: 'VALIDATION_003', details: { field: 'phone[$ne]' } });
    });

    it('refuses a NUL character in a query parameter', async () => {
      const res = await http().get('/schedule?phone=%2B1415%00').set(alice).expect(400);
      expect(res.body).toMatchObject({ status: 'error', error_code: 'VALIDATION_001', details: { field: 'phone' } });
    });

    it('creates nothing when validation fails', async () => {
      const before = (await http().get('/schedule').set(alice)).body.total;
      await create({ timezone: 'Nowhere/Land' }).expect(400);
      expect((await http().get('/schedule').set(alice)).body.total).toBe(before);
    });
  });

  it('creates a schedule and returns the full record, normalised', async () => {
    const res = await create({ phone: '+44 20 7946 0958', scheduled_time: '2031-03-30T09:00:00', timezone: 'Europe/London', description: 'Renewal', metadata: { policy: 'P-1' } }).expect(200);
    expect(res.body).toEqual({ status: 'success', message: 'Call scheduled successfully', schedule_id: expect.stringMatching(/^[0-9a-f]{24}$/), next_execution: '2031-03-30T08:00:00.000Z' });
    const got = await http().get(`/schedule/${res.body.schedule_id}`).set(alice).expect(200);
    expect(got.body.schedule).toMatchObject({
      phone: '+442079460958',
      timezone: 'Europe/London',
      status: 'scheduled',
      created_by: 'alice',
      call_type: 'outbound',
      misfire_policy: 'skip',
      metadata: { policy: 'P-1' },
      next_execution: '2031-03-30T08:00:00.000Z',
      occurrence_count: 0,
      last_call_status: null,
    });
    // Its `created` entry is stored just after the answer.
    const events = await waitFor(async () => {
      const types = (await http().get(`/schedule/${res.body.schedule_id}`).set(alice).expect(200)).body.schedule.events.map((e: { type: string }) => e.type);
      return types.length > 0 && types;
    }, 5000);
    expect(events).toEqual(['created']);
  });

  it('computes next_execution of a recurring schedule in its timezone', async () => {
    const res = await create({
      scheduled_time: '2031-11-01T09:00:00',
      timezone: 'America/New_York',
      repeat_config: { enabled: true, frequency: 'weekly', days_of_week: [1], max_occurrences: 3 },
    }).expect(200);
    // 2031-11-01 is a Saturday: the first Monday is 2031-11-03, after the fall-back (EST, UTC-5).
    expect(res.body.next_execution).toBe('2031-11-03T14:00:00.000Z');
  });

  describe('Idempotency-Key', () => {
    it('replays the original schedule for a retried POST', async () => {
      const body = { description: 'idempotent', scheduled_time: inMinutes(45) };
      const first = await create(body).set('Idempotency-Key', 'key-1').expect(200);
      const again = await create(body).set('Idempotency-Key', 'key-1').expect(200);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      const listed = await http().get('/schedule').set(alice).expect(200);
      expect(listed.body.schedules.filter((s: { description: string }) => s.description === 'idempotent')).toHaveLength(1);
    });

    it('refuses the same key with a different body', async () => {
      await create({ description: 'a', scheduled_time: inMinutes(50) }).set('Idempotency-Key', 'key-2').expect(200);
      const res = await create({ description: 'b', scheduled_time: inMinutes(50) }).set('Idempotency-Key', 'key-2').expect(409);
      expect(res.body.error_code).toBe('SCHEDULE_011');
    });

    it('keeps keys per tenant', async () => {
      const body = { description: 'shared key', scheduled_time: inMinutes(55) };
      const a = await create(body, alice).set('Idempotency-Key', 'same').expect(200);
      const b = await create(body, bob).set('Idempotency-Key', 'same').expect(200);
      expect(a.body.schedule_id).not.toBe(b.body.schedule_id);
    });

    it('creates one schedule for concurrent retries', async () => {
      const body = { description: 'concurrent', scheduled_time: inMinutes(60) };
      const results = await Promise.all([1, 2, 3, 4].map(() => create(body).set('Idempotency-Key', 'burst')));
      const ids = new Set(results.map((r) => r.body.schedule_id));
      expect(ids.size).toBe(1);
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(results.filter((r) => r.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
    });
  });

  describe('state changes', () => {
    it('pauses, resumes, updates and cancels; refuses illegal transitions with 409', async () => {
      const id = (await create({ scheduled_time: inMinutes(20) }).expect(200)).body.schedule_id;
      const paused = await http().post(`/schedule/${id}/pause`).set(alice).expect(200);
      expect(paused.body.schedule.status).toBe('paused');
      expect((await http().post(`/schedule/${id}/pause`).set(alice).expect(409)).body.error_code).toBe('SCHEDULE_010');

      const active = await http().get('/schedule/active').set(alice).expect(200);
      expect(active.body.active_schedules.find((a: { schedule_id: string }) => a.schedule_id === id)).toMatchObject({ status: 'paused', job_id: null });

      const resumed = await http().post(`/schedule/${id}/resume`).set(alice).expect(200);
      expect(resumed.body.schedule.status).toBe('scheduled');

      const newTime = inMinutes(90);
      const updated = await http().put(`/schedule/${id}`).set(alice).send({ scheduled_time: newTime, notes: 'moved' }).expect(200);
      expect(updated.body.schedule).toMatchObject({ scheduled_time: newTime, next_execution: newTime, notes: 'moved', version: 4 });

      expect((await http().put(`/schedule/${id}`).set(alice).send({ timezone: 'Nowhere/Land' }).expect(400)).body.error_code).toBe('SCHEDULE_002');

      const cancelled = await http().post(`/schedule/${id}/cancel`).set(alice).expect(200);
      expect(cancelled.body.schedule).toMatchObject({ status: 'cancelled', next_execution: null });
      for (const action of ['resume', 'pause', 'cancel']) {
        const res = await http().post(`/schedule/${id}/${action}`).set(alice).expect(409);
        expect(res.body).toMatchObject({ error_code: 'SCHEDULE_010', details: { field: 'status' } });
      }
      expect((await http().put(`/schedule/${id}`).set(alice).send({ notes: 'x' }).expect(409)).body.error_code).toBe('SCHEDULE_010');
      const after = await http().get('/schedule/active').set(alice).expect(200);
      expect(after.body.active_schedules.find((a: { schedule_id: string }) => a.schedule_id === id)).toBeUndefined();
      const events = (await http().get(`/schedule/${id}`).set(alice)).body.schedule.events.map((e: { type: string }) => e.type);
      expect(events).toEqual(['cancelled', 'updated', 'resumed', 'paused', 'created']);
    });

    // docs/decisions/0029-nulls-not-stored.md: the stored schedule has no null field, created or cancelled;
    // the API reads every absent field as null.
    it('stores a schedule without its null fields and reads them as null', async () => {
      const id = (await create({ notes: 'keep' }).expect(200)).body.schedule_id;
      const stored = () => t.get<Connection>(getConnectionToken()).collection('call_schedules').findOne({ _id: new Types.ObjectId(id) });
      const nullFields = (doc: Record<string, unknown> | null) => Object.entries(doc ?? {}).filter(([, v]) => v === null).map(([k]) => k);
      const created = await stored();
      expect(created).toMatchObject({ notes: 'keep', status: 'scheduled' });
      expect(nullFields(created)).toEqual([]);
      expect(created).not.toHaveProperty('last_call_status');

      await http().post(`/schedule/${id}/cancel`).set(alice).expect(200);
      const cancelled = await stored();
      expect(cancelled).toMatchObject({ status: 'cancelled' });
      expect(cancelled).not.toHaveProperty('next_execution');
      expect(nullFields(cancelled)).toEqual([]);
      const got = (await http().get(`/schedule/${id}`).set(alice).expect(200)).body.schedule;
      expect(got).toMatchObject({ status: 'cancelled', next_execution: null, last_call_status: null, last_error: null, repeat_config: null, notes: 'keep' });
    });

    it('deletes a schedule, which then reads as 404', async () => {
      const id = (await create({}).expect(200)).body.schedule_id;
      await http().delete(`/schedule/${id}`).set(alice).expect(200);
      expect((await http().get(`/schedule/${id}`).set(alice).expect(404)).body.error_code).toBe('SCHEDULE_009');
    });
  });

  describe('tenancy', () => {
    it('hides one tenant\'s schedules from another and lets an admin see all', async () => {
      const id = (await create({ description: 'alice only' }, alice).expect(200)).body.schedule_id;
      for (const [method, path] of [
        ['get', `/schedule/${id}`],
        ['put', `/schedule/${id}`],
        ['delete', `/schedule/${id}`],
        ['post', `/schedule/${id}/pause`],
        ['post', `/schedule/${id}/cancel`],
      ] as const) {
        const res = await http()[method](path).set(bob).send(method === 'put' ? { notes: 'hijack' } : undefined);
        expect(res.status).toBe(404);
        expect(res.body.error_code).toBe('SCHEDULE_009');
      }
      const mine = await http().get(`/schedule/${id}`).set(alice).expect(200);
      expect(mine.body.schedule).toMatchObject({ status: 'scheduled', notes: null, version: 1 });
      expect((await http().get('/schedule').set(bob)).body.schedules.some((s: { id: string }) => s.id === id)).toBe(false);
      await http().get(`/schedule/${id}`).set(admin).expect(200);
    });

    it('answers 404 for an id that is not an ObjectId', async () => {
      await http().get('/schedule/not-an-id').set(alice).expect(404);
    });
  });

  it('lists with filters, paging and a total', async () => {
    const carol = bearer(tokenFor('carol'));
    for (let i = 0; i < 5; i++) await create({ description: `c${i}`, phone: i % 2 ? '+14155552671' : '+14155552672' }, carol).expect(200);
    const page = await http().get('/schedule?limit=2&offset=1').set(carol).expect(200);
    expect(page.body).toMatchObject({ total: 5, limit: 2, offset: 1 });
    expect(page.body.schedules.map((s: { description: string }) => s.description)).toEqual(['c3', 'c2']);
    const byPhone = await http().get('/schedule?phone=%2B14155552671').set(carol).expect(200);
    expect(byPhone.body.total).toBe(2);
    expect((await http().get('/schedule?status=paused').set(carol).expect(200)).body.total).toBe(0);
    expect((await http().get('/schedule?status=bogus').set(carol).expect(400)).body.error_code).toBe('VALIDATION_001');
    expect((await http().get('/schedule?limit=100000').set(carol).expect(400)).body.details.field).toBe('limit');
  });
});
