import { getConnectionToken } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import request from 'supertest';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { ScheduleOutbox } from '../../src/schedule/schedule-outbox';
import { RecordingCallDispatcher } from '../utils/recording-dispatcher';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

interface ItemResult {
  index: number;
  status: 'created' | 'rejected';
  schedule_id?: string;
  next_execution?: string;
  error_code?: string;
  field?: string | null;
}

// Each bulk request is many writes: on the embedded FerretDB of a shared, loaded machine they take a while.
jest.setTimeout(240_000);

describe('POST /schedule/bulk', () => {
  let t: TestApp;
  const recorder = new RecordingCallDispatcher();
  const http = () => request(t.app.getHttpServer());
  const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
  const countFor = async (auth: Record<string, string>) => (await http().get('/schedule?limit=1').set(auth).expect(200)).body.total as number;

  beforeAll(async () => {
    t = await createTestApp({ override: (b) => b.overrideProvider(CallDispatcher).useValue(recorder) });
  });
  afterAll(() => t.close());

  it('creates the good items and rejects each bad one with its code and field', async () => {
    const auth = bearer(tokenFor('bulk-mixed'));
    const schedules = [
      { phone: '+14155552671', scheduled_time: inHours(1), description: 'first', calling_window: { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' } },
      { phone: '12', scheduled_time: inHours(1) },
      { phone: '+14155552672', scheduled_time: '2020-01-01T00:00:00Z' },
      { phone: '+14155552673', scheduled_time: inHours(1), colour: 'blue' },
      { phone: '+14155552674', scheduled_time: inHours(1), campaign_id: '0123456789abcdef01234567' },
      'not an object',
      { phone: '+14155552675', scheduled_time: inHours(1), calling_window: { days: [0], start: '09:00', end: '17:00' } },
      { phone: '+14155552676', scheduled_time: inHours(2), repeat_config: { enabled: true, frequency: 'daily' }, respect_calling_hours: true },
      { phone: '+14155552677', scheduled_time: inHours(2), repeat_config: { enabled: true, frequency: 'daily' }, respect_calling_hours: false },
    ];
    const res = await http().post('/schedule/bulk').set(auth).send({ schedules }).expect(201);
    expect(res.body).toMatchObject({ status: 'success', total: 9, created: 2, rejected: 7 });
    const results: ItemResult[] = res.body.results;
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(results.map((r) => (r.status === 'created' ? 'created' : `${r.error_code}:${r.field}`))).toEqual([
      'created',
      'SCHEDULE_001:phone',
      'SCHEDULE_004:scheduled_time',
      'VALIDATION_003:colour',
      'VALIDATION_003:campaign_id',
      'VALIDATION_004:null',
      'CALLING_RULES_001:calling_window.days',
      'created',
      'SCHEDULE_017:respect_calling_hours',
    ]);

    const first = (await http().get(`/schedule/${results[0].schedule_id}`).set(auth).expect(200)).body.schedule;
    expect(first).toMatchObject({
      phone: '+14155552671',
      description: 'first',
      status: 'scheduled',
      next_execution: results[0].next_execution,
      respect_calling_hours: true,
      callee_timezone: null,
      calling_window: { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00', holidays: [] },
      campaign_id: null,
    });
    expect(first.events.map((e: { type: string }) => e.type)).toEqual(['created']);
    const active = (await http().get('/schedule/active').set(auth).expect(200)).body.active_schedules;
    expect(active.map((a: { schedule_id: string }) => a.schedule_id).sort()).toEqual([results[0].schedule_id, results[7].schedule_id].sort());
    expect(active.every((a: { job_id: string | null }) => a.job_id === null)).toBe(true);
  });

  it('takes a body far past the global JSON limit', async () => {
    const auth = bearer(tokenFor('bulk-large'));
    // Few schedules with large metadata: the point is the body size, not the count.
    const schedules = Array.from({ length: 24 }, (_, i) => ({
      phone: `+1212555${String(i).padStart(4, '0')}`,
      scheduled_time: inHours(3),
      metadata: { ref: `order-${i}`, note: 'n'.repeat(14_000) },
    }));
    const body = JSON.stringify({ schedules });
    expect(body.length).toBeGreaterThan(256 * 1024);
    const res = await http().post('/schedule/bulk').set(auth).set('Content-Type', 'application/json').send(body).expect(201);
    expect(res.body).toMatchObject({ total: 24, created: 24, rejected: 0 });
    expect(new Set(res.body.results.map((r: ItemResult) => r.schedule_id)).size).toBe(24);
    expect(await countFor(auth)).toBe(24);
  });

  it('is idempotent with an Idempotency-Key: a replay answers the same results and creates nothing', async () => {
    const auth = bearer(tokenFor('bulk-idem'));
    const schedules = [
      { phone: '+14155550101', scheduled_time: inHours(1) },
      { phone: 'bad', scheduled_time: inHours(1) },
      { phone: '+14155550102', scheduled_time: inHours(1) },
    ];
    const first = await http().post('/schedule/bulk').set(auth).set('Idempotency-Key', 'bulk-1').send({ schedules }).expect(201);
    const replay = await http().post('/schedule/bulk').set(auth).set('Idempotency-Key', 'bulk-1').send({ schedules }).expect(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.results).toEqual(first.body.results);
    expect(await countFor(auth)).toBe(2);
    const conflict = await http().post('/schedule/bulk').set(auth).set('Idempotency-Key', 'bulk-1').send({ schedules: schedules.slice(0, 1) }).expect(409);
    expect(conflict.body).toMatchObject({ error_code: 'SCHEDULE_011', details: { field: 'Idempotency-Key' } });
    // The same key is another tenant's own.
    await http().post('/schedule/bulk').set(bearer(tokenFor('bulk-idem-2'))).set('Idempotency-Key', 'bulk-1').send({ schedules: schedules.slice(0, 1) }).expect(201);
  });

  it("a keyed bulk cut off after its insert and before its schedules' events: the retry stores each schedule's created event and history entry, once", async () => {
    const auth = bearer(tokenFor('bulk-cut', { tenantId: 'tenant-bulk-cut' }));
    const schedules = [
      { phone: '+14155550111', scheduled_time: inHours(2) },
      { phone: '+14155550112', scheduled_time: inHours(2) },
      { phone: '+14155550113', scheduled_time: inHours(2) },
    ];
    const outbox = t.get<ScheduleOutbox>(ScheduleOutbox);
    const stop = jest.spyOn(outbox, 'storeCreated').mockRejectedValueOnce(new Error('process stopped'));
    try {
      await http().post('/schedule/bulk').set(auth).set('Idempotency-Key', 'bulk-cut-1').send({ schedules }).expect(500);
    } finally {
      stop.mockRestore();
    }
    expect(await countFor(auth)).toBe(3);
    const retry = await http().post('/schedule/bulk').set(auth).set('Idempotency-Key', 'bulk-cut-1').send({ schedules }).expect(201);
    const ids = (retry.body.results as ItemResult[]).map((r) => r.schedule_id);
    expect(await countFor(auth)).toBe(3);
    const db = t.get<Connection>(getConnectionToken());
    const stored = async () => ({
      notices: (await db.collection('notification_events').find({ type: 'schedule.created', tenant_id: 'tenant-bulk-cut' }).toArray()).map((e) => e.data.schedule_id).sort(),
      history: (await db.collection('schedule_events').find({ type: 'created', tenant_id: 'tenant-bulk-cut' }).toArray()).map((e) => e.schedule_id).sort(),
    });
    expect(await stored()).toEqual({ notices: [...ids].sort(), history: [...ids].sort() });
    await http().post('/schedule/bulk').set(auth).set('Idempotency-Key', 'bulk-cut-1').send({ schedules }).expect(200);
    expect(await stored()).toEqual({ notices: [...ids].sort(), history: [...ids].sort() });
  });

  it('rejects a malformed envelope as a whole', async () => {
    const auth = bearer(tokenFor('bulk-bad'));
    const expectError = async (req: request.Test, code: string) => expect((await req.expect(code === 'VALIDATION_005' ? 413 : 400)).body.error_code).toBe(code);
    await expectError(http().post('/schedule/bulk').set(auth).send({ schedules: [] }), 'SCHEDULE_016');
    await expectError(http().post('/schedule/bulk').set(auth).send([{ phone: '+14155550101', scheduled_time: inHours(1) }]), 'SCHEDULE_016');
    await expectError(http().post('/schedule/bulk').set(auth).send({ schedules: [], extra: 1 }), 'SCHEDULE_016');
    await expectError(http().post('/schedule/bulk').set(auth).send({ schedules: Array.from({ length: 10_001 }, () => ({})) }), 'SCHEDULE_016');
    await expectError(http().post('/schedule/bulk').set(auth).set('Content-Type', 'application/json').send('{"schedules": ['), 'VALIDATION_004');
    await expectError(http().post('/schedule/bulk').set(auth).set('Content-Type', 'text/plain').send('hello'), 'SCHEDULE_016');
    await expectError(http().post('/schedule/bulk').set(auth).set('Idempotency-Key', 'bad key!').send({ schedules: [{}] }), 'VALIDATION_001');
    await http().post('/schedule/bulk').send({ schedules: [{}] }).expect(401);
    expect(await countFor(auth)).toBe(0);
  });

  it('bulk-created schedules are dispatched like any other', async () => {
    const auth = bearer(tokenFor('bulk-dial'));
    const due = new Date(Date.now() + 1500).toISOString();
    const res = await http()
      .post('/schedule/bulk')
      .set(auth)
      .send({ schedules: [{ phone: '+14155550201', scheduled_time: due }, { phone: '+14155550202', scheduled_time: due }] })
      .expect(201);
    const ids = res.body.results.map((r: ItemResult) => r.schedule_id);
    await waitFor(async () => (ids.every((id: string) => recorder.dials.some((d) => d.scheduleId === id)) ? true : null), 60_000);
    expect(recorder.dials.filter((d) => ids.includes(d.scheduleId))).toHaveLength(2);
  });
});
