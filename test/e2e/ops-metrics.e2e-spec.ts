import request from 'supertest';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';
import { WebhookReceiver } from '../utils/webhook-receiver';

function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

describe('GET /metrics (ops e2e)', () => {
  const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
  const alice = bearer(tokenFor('metrics-alice'));
  let t: TestApp;
  let hooks: WebhookReceiver;

  beforeAll(async () => {
    hooks = await new WebhookReceiver().start();
    t = await createTestApp({ env: { METRICS_TOKEN, NOTIFICATION_ALLOW_PRIVATE_URLS: 'true' } });
  });
  afterAll(async () => {
    await t.close();
    await hooks.stop();
  });

  const scrape = async () => (await request(t.app.getHttpServer()).get('/metrics').set(bearer(METRICS_TOKEN)).expect(200)).text;

  it('needs the metrics token when one is configured', async () => {
    const none = await request(t.app.getHttpServer()).get('/metrics').expect(401);
    expect(none.body).toMatchObject({ status: 'error', error_code: 'AUTH_001' });
    const wrong = await request(t.app.getHttpServer()).get('/metrics').set(bearer('x'.repeat(30))).expect(401);
    expect(wrong.body.error_code).toBe('AUTH_002');
    // A user's JWT is not the metrics token either.
    await request(t.app.getHttpServer()).get('/metrics').set(alice).expect(401);
  });

  it('fills the dispatch-lag histogram and the call, delivery, signature and schedule metrics as a call runs', async () => {
    const server = t.app.getHttpServer();
    const sub = await request(server).post('/notifications/subscriptions').set(alice).send({ url: hooks.url, events: ['call.completed'] }).expect(201);
    hooks.secret = sub.body.subscription.secret;
    const before = await scrape();
    expect(sample(before, 'call_scheduler_dispatch_lag_seconds_count', { provider: 'simulated' })).toBeNull();

    const later = await request(server).post('/schedule/').set(alice).send({ phone: '+14155550001', scheduled_time: new Date(Date.now() + 3_600_000).toISOString() }).expect(200);
    const due = await request(server).post('/schedule/').set(alice).send({ phone: '+14155550002', scheduled_time: new Date(Date.now() + 1000).toISOString() }).expect(200);
    await waitFor(async () => (await request(server).get(`/schedule/${due.body.schedule_id}`).set(alice)).body.schedule?.status === 'completed', 20_000);
    await waitFor(async () => hooks.ofType('call.completed').length === 1, 10_000);
    await request(server).post('/webhook/call-status').type('form').send({ CallSid: 'CA0', CallStatus: 'completed' }).expect(403);

    const text = await waitFor(async () => {
      const body = await scrape();
      // call.dispatched and the call's final event are counted by separate listeners, in either order.
      return (sample(body, 'call_scheduler_notification_deliveries_total', { result: 'delivered' }) ?? 0) >= 1 &&
        (sample(body, 'call_scheduler_calls_final_total', { provider: 'simulated', status: 'completed' }) ?? 0) >= 1 &&
        (sample(body, 'call_scheduler_calls_dispatched_total', { provider: 'simulated' }) ?? 0) >= 1
        ? body
        : null;
    }, 10_000);
    expect(sample(text, 'call_scheduler_dispatch_lag_seconds_count', { provider: 'simulated' })).toBe(1);
    expect(sample(text, 'call_scheduler_dispatch_lag_seconds_bucket', { provider: 'simulated', le: '+Inf' })).toBe(1);
    expect(sample(text, 'call_scheduler_dispatch_lag_seconds_sum', { provider: 'simulated' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'call_scheduler_calls_dispatched_total', { provider: 'simulated' })).toBe(1);
    expect(sample(text, 'call_scheduler_webhook_signature_failures_total', { reason: 'missing' })).toBe(1);
    // The far-off schedule is still live; the completed one is not.
    expect(sample(text, 'call_scheduler_schedules_active', { status: 'scheduled' })).toBe(1);
    expect(later.body.schedule_id).toEqual(expect.any(String));
    expect(sample(text, 'call_scheduler_calls_waiting_for_pacing')).toBe(0);
    expect(sample(text, 'call_scheduler_schedules_overdue')).toBe(0);
    expect(text).toContain('# TYPE call_scheduler_provider_errors_total counter');
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('counts failed calls by provider and final status, and their provider error code', async () => {
    const server = t.app.getHttpServer();
    const res = await request(server)
      .post('/schedule/')
      .set(alice)
      .send({ phone: '+14155550003', scheduled_time: new Date(Date.now() + 1000).toISOString(), provider_options: { simulate_outcome: 'failed' } })
      .expect(200);
    await waitFor(async () => ['failed', 'completed'].includes((await request(server).get(`/schedule/${res.body.schedule_id}`).set(alice)).body.schedule?.status), 20_000);
    const text = await waitFor(async () => {
      const body = await scrape();
      return (sample(body, 'call_scheduler_calls_final_total', { provider: 'simulated', status: 'failed' }) ?? 0) >= 1 ? body : null;
    }, 10_000);
    expect(sample(text, 'call_scheduler_calls_final_total', { provider: 'simulated', status: 'failed' })).toBe(1);
    // The simulator reports a failed call with Twilio's ErrorCode 31005.
    expect(sample(text, 'call_scheduler_provider_errors_total', { provider: 'simulated', code: '31005' })).toBe(1);
  });
});
