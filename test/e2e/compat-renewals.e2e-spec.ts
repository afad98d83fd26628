import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { Clock } from '../../src/common/clock/clock';
import { createTestApp, TestApp } from '../utils/test-app';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

// Seed 001 (Celery + Redis renewal auto-scheduler): its documented requests, verbatim apart from the host,
// ids and dates, against /api/scheduler/*, asserting its documented responses.
const ALL_DAY = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [] };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ERROR_BODY = { status: 'error', message: expect.any(String), error_code: expect.any(String), details: { field: expect.anything(), issue: expect.any(String) }, timestamp: expect.any(String) };

describe('seed 001 compatibility: /api/scheduler', () => {
  let t: TestApp;
  const clock = new TestClock();
  const http = () => request(t.app.getHttpServer());
  const db = () => t.get<Connection>(getConnectionToken());

  async function campaign(auth: Record<string, string>, settings: Record<string, unknown>, rows: Array<Record<string, unknown>>): Promise<string> {
    const id = (await http().post('/campaigns').set(auth).send({ name: 'Renewals', calling_window: ALL_DAY, call_days_before: 30, ...settings }).expect(201)).body.campaign.id as string;
    await http().post(`/campaigns/${id}/contacts`).set(auth).set('content-type', 'application/json').send(JSON.stringify(rows)).expect(200);
    await http().post(`/campaigns/${id}/start`).set(auth).expect(200);
    return id;
  }
  const contactIds = async (auth: Record<string, string>, id: string) =>
    new Map(((await http().get(`/campaigns/${id}/contacts`).query({ limit: 100 }).set(auth).expect(200)).body.contacts as Array<{ id: string; phone: string }>).map((c) => [c.phone, c.id]));

  beforeAll(async () => {
    clock.set(new Date('2025-01-05T12:00:00Z'));
    t = await createTestApp({ env: { CAMPAIGN_TICK_INTERVAL_MS: '1000' }, override: (b) => b.overrideProvider(Clock).useValue(clock) });
  });
  afterAll(() => t.close());

  it('config, pending-customers and trigger-now answer as documented', async () => {
    const auth = bearer(tokenFor('seed001-renewals'));
    clock.set(new Date('2025-01-05T12:00:00Z'));
    const others = Array.from({ length: 31 }, (_, i) => ({ phone: `+9191234560${String(i).padStart(2, '0')}`, name: `Customer ${i}`, due_date: '2025-01-20', variables: { policy_name: 'Motor Secure' } }));
    const id = await campaign(auth, {}, [{ phone: '+919123456789', name: 'John Doe', due_date: '2025-01-15', variables: { policy_name: 'Health Plus' } }, ...others]);
    const john = (await contactIds(auth, id)).get('+919123456789');

    // GET /api/scheduler/config
    const initial = await http().get('/api/scheduler/config').set(auth).expect(200);
    expect(initial.body).toMatchObject({ enabled: true, daily_call_time: '10:00', days_before_expiry: 30, max_calls_per_day: 50, skip_if_called_within_days: 7 });

    // PUT /api/scheduler/config with the documented body (days_before_expiry included).
    const body = `{
  "enabled": true,
  "daily_call_time": "11:00",
  "days_before_expiry": 14,
  "max_calls_per_day": 100
}`;
    const put = await http().put('/api/scheduler/config').set(auth).set('content-type', 'application/json').send(body).expect(200);
    expect(put.body).toMatchObject({ enabled: true, daily_call_time: '11:00', days_before_expiry: 14, max_calls_per_day: 100, skip_if_called_within_days: 7 });
    expect((await http().get('/api/scheduler/config').set(auth).expect(200)).body).toMatchObject({ daily_call_time: '11:00', days_before_expiry: 14, max_calls_per_day: 100 });
    expect((await http().get('/scheduler/config').set(auth).expect(200)).body.config).toMatchObject({ daily_call_time: '11:00', days_before_due: 14, max_calls_per_day: 100 });

    // GET /api/scheduler/pending-customers (documented example: John Doe, Health Plus, ends 2025-01-15, 10 days).
    const one = await http().get('/api/scheduler/pending-customers?days=30&limit=1').set(auth).expect(200);
    expect(one.body).toEqual({
      count: 1,
      customers: [{ customer_id: john, customer_name: 'John Doe', customer_phone: '+919123456789', policy_name: 'Health Plus', policy_end_date: '2025-01-15', days_to_expiry: 10 }],
    });
    expect((await http().get('/api/scheduler/pending-customers').set(auth).expect(200)).body.count).toBe(32);
    expect((await http().get('/api/scheduler/pending-customers?days=12').set(auth).expect(200)).body.count).toBe(1);

    // curl -X POST "http://localhost:8000/api/scheduler/trigger-now?days=30&max_calls=10"
    const first = await http().post('/api/scheduler/trigger-now?days=30&max_calls=10').set(auth).expect(200);
    expect(first.body).toEqual({ success: true, message: 'Scheduler triggered for 30 days expiry window', task_id: expect.stringMatching(UUID), queued_count: 10 });
    // POST /scheduler/trigger-now?days=30 (the manual trigger flow; max_calls defaults to 20).
    const second = await http().post('/api/scheduler/trigger-now?days=30').set(auth).expect(200);
    expect(second.body).toEqual({ success: true, message: 'Scheduler triggered for 30 days expiry window', task_id: expect.stringMatching(UUID), queued_count: 20 });
    // Customers already scheduled today are no longer pending.
    expect((await http().get('/api/scheduler/pending-customers').set(auth).expect(200)).body.count).toBe(2);

    // Bad input: the standard error body, nothing saved or released.
    for (const [path, query] of [
      ['/api/scheduler/pending-customers', { limit: 0 }],
      ['/api/scheduler/pending-customers', { days: 'soon' }],
    ] as const) {
      const bad = await http().get(path).query(query).set(auth).expect(400);
      expect(bad.body).toMatchObject({ ...ERROR_BODY, error_code: 'CAMPAIGN_006', details: { field: Object.keys(query)[0], issue: expect.any(String) } });
    }
    for (const query of [{ days: -1 }, { max_calls: 0 }, { max_calls: 'all' }]) {
      const bad = await http().post('/api/scheduler/trigger-now').query(query).set(auth).expect(400);
      expect(bad.body).toMatchObject({ ...ERROR_BODY, error_code: 'CAMPAIGN_006', details: { field: Object.keys(query)[0], issue: expect.any(String) } });
    }
    for (const payload of [{ days_before_expiry: -1, max_calls_per_day: 1 }, { daily_call_time: '24:00' }, { max_calls_per_day: 1, celery: true }, { enabled: 'yes' }]) {
      const bad = await http().put('/api/scheduler/config').set(auth).send(payload).expect(400);
      expect(bad.body).toMatchObject(ERROR_BODY);
    }
    expect((await http().get('/api/scheduler/config').set(auth).expect(200)).body).toMatchObject({ enabled: true, daily_call_time: '11:00', days_before_expiry: 14, max_calls_per_day: 100 });
    expect((await http().get('/api/scheduler/pending-customers').set(auth).expect(200)).body.count).toBe(2);
    expect((await http().get('/api/scheduler/config').expect(401)).body).toMatchObject({ ...ERROR_BODY, error_code: 'AUTH_001' });
  }, 180_000);

  it("stats answer with the documented body, total_pending included; scheduled calls are listed, booked and cancelled", async () => {
    const auth = bearer(tokenFor('seed001-stats'));
    clock.set(new Date('2025-12-05T12:00:00Z'));
    const phones = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `+9198765${prefix}${String(i).padStart(2, '0')}`);
    const [completing, failing, waiting, booked] = [phones('001', 5), phones('002', 1), phones('003', 4), phones('004', 11)];
    await campaign(auth, {}, completing.map((phone) => ({ phone, due_date: '2025-12-20' })));
    await campaign(auth, { retry_on: ['busy'], provider_options: { simulate_outcome: 'busy' } }, failing.map((phone) => ({ phone, due_date: '2025-12-20' })));
    // Starts next year: released today, dialed later.
    const later = await campaign(auth, { start_at: '2026-01-01T00:00:00Z' }, [...waiting.map((phone) => ({ phone, due_date: '2025-12-20' })), ...booked.map((phone) => ({ phone, due_date: '2026-03-01' }))]);
    const ids = await contactIds(auth, later);

    // Eleven follow-ups booked for tomorrow (outside the 30-day window, so the batch leaves them).
    for (const phone of booked) {
      const created = await http()
        .post('/api/scheduler/scheduled-calls')
        .set(auth)
        .send({ customer_id: ids.get(phone), scheduled_date: '2025-12-06', scheduled_time: '10:30', reason: 'follow_up', priority: 1, notes: 'Call back about renewal' })
        .expect(200);
      expect(created.body).toMatchObject({ id: expect.any(String), customer_id: ids.get(phone), scheduled_date: '2025-12-06', scheduled_time: '10:30', status: 'pending', reason: 'follow_up', priority: 1, notes: 'Call back about renewal' });
    }

    // curl -X POST "http://localhost:8000/api/scheduler/trigger-now?days=30&max_calls=10"
    expect((await http().post('/api/scheduler/trigger-now?days=30&max_calls=10').set(auth).expect(200)).body).toMatchObject({ success: true, queued_count: 10 });
    await waitFor(async () => {
      const s = (await http().get('/api/scheduler/stats').set(auth).expect(200)).body;
      return s.completed_today === 5 && s.failed_today === 1;
    }, 60_000, 200);

    // curl http://localhost:8000/api/scheduler/stats
    const stats = await http().get('/api/scheduler/stats').set(auth).expect(200);
    expect(stats.body).toEqual({
      today: '2025-12-05',
      scheduled_today: 10,
      completed_today: 5,
      failed_today: 1,
      pending_today: 4,
      total_pending: 15,
      next_scheduled_time: '10:00',
      scheduler_enabled: true,
    });

    // Filters by reason, customer, date and status.
    const list = (query: Record<string, unknown>) => http().get('/api/scheduler/scheduled-calls').query(query).set(auth).expect(200).then((r) => r.body);
    expect((await list({})).count).toBe(21);
    expect((await list({ reason: 'expiring_policy' })).count).toBe(10);
    expect((await list({ reason: 'follow_up' })).count).toBe(11);
    expect((await list({ reason: 'manual' })).count).toBe(0);
    expect((await list({ date: '2025-12-05' })).count).toBe(10);
    expect((await list({ date: '2025-12-06' })).count).toBe(11);
    expect((await list({ status: 'completed' })).count).toBe(5);
    expect((await list({ status: 'failed' })).count).toBe(1);
    expect((await list({ status: 'queued' })).count).toBe(4);
    expect((await list({ status: 'pending', limit: 3 })).count).toBe(3);
    const mine = await list({ customer_id: ids.get(booked[0]) });
    expect(mine).toEqual({
      count: 1,
      scheduled_calls: [
        {
          id: expect.any(String),
          customer_id: ids.get(booked[0]),
          customer_policy_id: null,
          scheduled_date: '2025-12-06',
          scheduled_time: '10:30',
          status: 'pending',
          reason: 'follow_up',
          priority: 1,
          celery_task_id: null,
          call_id: null,
          notes: 'Call back about renewal',
          retry_count: 0,
          created_at: expect.stringMatching(/^2025-12-05T12:00/),
          executed_at: null,
        },
      ],
    });

    // DELETE cancels a booking not dialed yet; the contact waits for the batch again.
    const bookingId = mine.scheduled_calls[0].id as string;
    const cancelled = await http().delete(`/api/scheduler/scheduled-calls/${bookingId}`).set(auth).expect(200);
    expect(cancelled.body).toMatchObject({ success: true, scheduled_call: { id: bookingId, status: 'cancelled' } });
    expect((await http().delete(`/api/scheduler/scheduled-calls/${bookingId}`).set(auth).expect(200)).body.scheduled_call.status).toBe('cancelled');
    expect((await list({ status: 'cancelled' })).count).toBe(1);
    expect((await http().get('/api/scheduler/stats').set(auth).expect(200)).body.total_pending).toBe(14);
    const done = (await list({ status: 'completed' })).scheduled_calls[0];
    expect(done.executed_at).toEqual(expect.any(String));
    const refused = await http().delete(`/api/scheduler/scheduled-calls/${done.id}`).set(auth).expect(409);
    expect(refused.body).toMatchObject({ ...ERROR_BODY, error_code: 'SCHEDULER_004', details: { field: 'id', issue: expect.any(String) } });
    for (const id of ['000000000000000000000000', 'not-an-id']) {
      expect((await http().delete(`/api/scheduler/scheduled-calls/${id}`).set(auth).expect(404)).body).toMatchObject({ ...ERROR_BODY, error_code: 'SCHEDULER_001' });
    }
    // Another tenant's booking is not found.
    expect((await http().delete(`/api/scheduler/scheduled-calls/${done.id}`).set(bearer(tokenFor('someone-else'))).expect(404)).body.error_code).toBe('SCHEDULER_001');

    // Bad bookings: the standard error body, and nothing written.
    const customer = ids.get(booked[1]);
    const badPosts: Array<[Record<string, unknown>, number, string, string]> = [
      [{ scheduled_date: '2025-12-07' }, 400, 'VALIDATION_002', 'customer_id'],
      [{ customer_id: customer, scheduled_date: '2025-02-30' }, 400, 'CAMPAIGN_006', 'scheduled_date'],
      [{ customer_id: customer, scheduled_date: '07/12/2025' }, 400, 'CAMPAIGN_006', 'scheduled_date'],
      [{ customer_id: customer, scheduled_date: '2025-12-04' }, 400, 'CAMPAIGN_006', 'scheduled_date'],
      [{ customer_id: customer, scheduled_date: '2025-12-07', scheduled_time: '9am' }, 400, 'CAMPAIGN_006', 'scheduled_time'],
      [{ customer_id: customer, scheduled_date: '2025-12-07', reason: 'upsell' }, 400, 'CAMPAIGN_006', 'reason'],
      [{ customer_id: customer, scheduled_date: '2025-12-07', celery_task_id: 'x' }, 400, 'VALIDATION_003', 'celery_task_id'],
      [{ customer_id: '000000000000000000000000', scheduled_date: '2025-12-07' }, 404, 'SCHEDULER_002', 'customer_id'],
      [{ customer_id: customer, scheduled_date: '2025-12-06' }, 409, 'SCHEDULER_003', 'scheduled_date'],
      [{ customer_id: ids.get(waiting[0]), scheduled_date: '2025-12-05' }, 409, 'SCHEDULER_003', 'scheduled_date'],
    ];
    for (const [payload, status, code, field] of badPosts) {
      const bad = await http().post('/api/scheduler/scheduled-calls').set(auth).send(payload).expect(status);
      expect(bad.body).toMatchObject({ ...ERROR_BODY, error_code: code, details: { field, issue: expect.any(String) } });
    }
    for (const query of [{ date: 'tomorrow' }, { status: 'done' }, { reason: 'upsell' }, { limit: 0 }]) {
      expect((await http().get('/api/scheduler/scheduled-calls').query(query).set(auth).expect(400)).body).toMatchObject({ ...ERROR_BODY, error_code: 'CAMPAIGN_006' });
    }
    expect((await list({})).count).toBe(21);
    expect((await http().get('/api/scheduler/stats').set(auth).expect(200)).body).toMatchObject({ scheduled_today: 10, total_pending: 14 });

    // DELETE /api/scheduler/cleanup
    expect((await http().delete('/api/scheduler/cleanup?days=0').set(auth).expect(400)).body).toMatchObject({ ...ERROR_BODY, error_code: 'CAMPAIGN_006' });
    expect((await http().delete('/api/scheduler/cleanup?days=30').set(auth).expect(200)).body).toMatchObject({ success: true, days: 30, deleted_count: 0 });
    clock.advance(31 * 86_400_000);
    expect((await http().delete('/api/scheduler/cleanup?days=30').set(auth).expect(200)).body).toMatchObject({ success: true, days: 30, deleted_count: 21 });
    expect((await list({})).count).toBe(0);
  }, 180_000);
});
