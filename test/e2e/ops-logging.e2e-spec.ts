import { Writable } from 'node:stream';
import request from 'supertest';
import { LogDestination } from '../../src/observability/logging/log-destination';
import { createTestApp, TestApp } from '../utils/test-app';
import { postTwilioCallback, twilioCallbackParams } from '../utils/twilio-callbacks';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';
import { WebhookReceiver } from '../utils/webhook-receiver';

class CollectingDestination extends LogDestination {
  readonly lines: string[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      this.lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
}

// One app in this file: nestjs-pino keeps one root logger per module registry (per test file).
describe('structured logs (ops e2e)', () => {
  const PHONE = '+14155552671';
  const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
  const BACKEND_TOKEN = 'backend-internal-token-0123456789';
  const SIGNING_TOKEN = 'simulator-signing-token-0123456789';
  const destination = new CollectingDestination();
  const token = tokenFor('log-user');
  let t: TestApp;
  let hooks: WebhookReceiver;

  beforeAll(async () => {
    hooks = await new WebhookReceiver().start();
    t = await createTestApp({
      env: { LOG_LEVEL: 'verbose', NOTIFICATION_ALLOW_PRIVATE_URLS: 'true', METRICS_TOKEN, BACKEND_INTERNAL_TOKEN: BACKEND_TOKEN, SIMULATOR_SIGNING_TOKEN: SIGNING_TOKEN },
      override: (b) => b.overrideProvider(LogDestination).useValue(destination),
    });
  });
  afterAll(async () => {
    await t.close();
    await hooks.stop();
  });

  it('logs a full scheduled call as JSON lines with request ids, and never a full phone number or a secret', async () => {
    const server = t.app.getHttpServer();
    const sub = await request(server).post('/notifications/subscriptions').set(bearer(token)).send({ url: hooks.url, events: ['call.*'] }).expect(201);
    hooks.secret = sub.body.subscription.secret as string;
    const due = new Date(Date.now() + 1000);
    const created = await request(server).post('/schedule/').set(bearer(token)).send({ phone: PHONE, scheduled_time: due.toISOString(), description: `call ${PHONE}` }).expect(200);
    const id = created.body.schedule_id as string;
    await waitFor(async () => {
      const res = await request(server).get(`/schedule/${id}`).set(bearer(token)).expect(200);
      return res.body.schedule.status === 'completed';
    }, 20_000);
    await waitFor(async () => hooks.ofType('call.completed').length === 1, 10_000);
    // The simulator hands its reports in without HTTP: a provider's signed callback, carrying the callee's
    // number as Twilio's does, is what the request log must mask.
    const completed = hooks.ofType('call.completed')[0].envelope.data;
    const path = `/webhook/call-status?call_log_id=${encodeURIComponent(String(completed.call_log_id))}`;
    const late = await postTwilioCallback(server, t.config.publicBaseUrl, SIGNING_TOKEN, path, twilioCallbackParams(String(completed.call_id), 'completed', 9, { To: PHONE, CallDuration: '42' }));
    expect(late.status).toBe(200);
    await request(server).get(`/schedule?phone=${encodeURIComponent(PHONE)}`).set(bearer(token)).expect(200);
    await request(server).get('/metrics').set(bearer(METRICS_TOKEN)).expect(200);
    const bad = await request(server).post('/schedule/').set(bearer(token)).set('X-Request-Id', 'client-req-0001').send({ phone: 'nope', scheduled_time: due.toISOString() }).expect(400);
    expect(bad.headers['x-request-id']).toBe('client-req-0001');
    expect(bad.body.error_id).toBe('client-req-0001');
    // Let the status callbacks' after-response work and the log flush finish.
    await waitFor(async () => destination.lines.some((l) => l.includes('client-req-0001')), 5000);

    const entries = destination.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(10);
    const requests = entries.filter((e) => e.req !== undefined);
    expect(requests.length).toBeGreaterThan(3);
    for (const e of requests) expect((e.req as { id?: string }).id).toEqual(expect.any(String));
    expect(requests.some((e) => (e.req as { url: string }).url.startsWith('/webhook/call-status'))).toBe(true);
    expect(entries.some((e) => (e.req as { id?: string } | undefined)?.id === 'client-req-0001' && (e.res as { statusCode?: number } | undefined)?.statusCode === 400)).toBe(true);

    const all = destination.lines.join('\n');
    expect(all).toContain('+1******2671');
    for (const secret of [PHONE, PHONE.slice(1), PHONE.slice(2), encodeURIComponent(PHONE), token, METRICS_TOKEN, BACKEND_TOKEN, SIGNING_TOKEN, t.config.jwt.secret, hooks.secret]) {
      expect({ secret, found: all.includes(secret) }).toEqual({ secret, found: false });
    }
    expect(all).not.toMatch(/Bearer\s+ey/);
  });
});
