import request from 'supertest';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { signTwilioRequest } from '../../src/calls/webhook-signature';
import { DomainEventPublisher } from '../../src/notification/domain-event.publisher';
import { CallChangedEvent } from '../../src/notification/domain-events';
import { NotificationService } from '../../src/notification/notification.service';
import { WebhookDeliveryService } from '../../src/notification/webhook-delivery.service';
import { RecordingCallDispatcher } from '../utils/recording-dispatcher';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';
import { WebhookReceiver } from '../utils/webhook-receiver';

const NOTIFY_ENV = {
  NOTIFICATION_ALLOW_PRIVATE_URLS: 'true',
  NOTIFICATION_RETRY_DELAYS_MS: '300,300',
  NOTIFICATION_WEBHOOK_TIMEOUT_MS: '3000',
  SIMULATOR_STEP_MS: '50',
};

type Delivery = { id: string; status: string; event_id: string; event_type: string; attempt_count: number; attempts: Array<{ status_code: number | null; error: string | null }>; redelivery_of: string | null };

describe('webhook subscriptions and deliveries (e2e)', () => {
  let t: TestApp;
  const receivers: WebhookReceiver[] = [];
  const http = () => request(t.app.getHttpServer());

  async function subscribe(tenant: string, receiver: WebhookReceiver, events: string[]): Promise<string> {
    const res = await http().post('/notifications/subscriptions').set(bearer(tokenFor(tenant))).send({ url: receiver.url, events }).expect(201);
    receiver.secret = res.body.subscription.secret;
    return res.body.subscription.id;
  }

  async function receiver(behaviour?: ConstructorParameters<typeof WebhookReceiver>[0]): Promise<WebhookReceiver> {
    const r = await new WebhookReceiver(behaviour).start();
    receivers.push(r);
    return r;
  }

  const deliveries = async (tenant: string, query = ''): Promise<Delivery[]> =>
    (await http().get(`/notifications/deliveries${query}`).set(bearer(tokenFor(tenant))).expect(200)).body.deliveries;

  const scheduleIn = async (tenant: string, ms: number): Promise<string> =>
    (await http().post('/schedule/').set(bearer(tokenFor(tenant))).send({ phone: '+14155552671', scheduled_time: new Date(Date.now() + ms).toISOString() }).expect(200)).body.schedule_id;

  beforeAll(async () => {
    t = await createTestApp({ env: NOTIFY_ENV });
  });
  afterAll(async () => {
    await t.close();
    await Promise.all(receivers.map((r) => r.stop()));
  });

  it('delivers a scheduled call life, signed, to a subscriber for call.*', async () => {
    const hooks = await receiver();
    const subscriptionId = await subscribe('life-tenant', hooks, ['call.*', 'schedule.created']);
    const scheduleId = await scheduleIn('life-tenant', 1500);

    // Each event is its own delivery, so they may arrive in any order: wait for the whole life.
    const life = ['schedule.created', 'call.dispatched', 'call.ringing', 'call.answered', 'call.completed'];
    await waitFor(async () => life.every((type) => hooks.ofType(type).length > 0), 20_000);
    const types = hooks.received.map((r) => r.envelope.type);
    expect(types).toEqual(expect.arrayContaining(life));
    expect(hooks.ofType('call.completed')).toHaveLength(1);
    expect(types).not.toContain('schedule.completed');
    for (const r of hooks.received) {
      expect(r.signature).toBe('valid');
      expect(r.headers['x-callscheduler-event-id']).toBe(r.envelope.id);
      expect(r.headers['content-type']).toBe('application/json');
      expect(Object.keys(r.envelope).sort()).toEqual(['created_at', 'data', 'id', 'type']);
      expect(r.envelope.data).toMatchObject({ schedule_id: scheduleId, tenant_id: 'life-tenant', phone: '+14155552671' });
    }
    const completed = hooks.ofType('call.completed')[0].envelope.data;
    expect(completed).toMatchObject({ status: 'completed', attempt_number: 1 });
    expect(completed.call_log_id).toEqual(hooks.ofType('call.dispatched')[0].envelope.data.call_log_id);
    expect(new Set(hooks.received.map((r) => r.envelope.id)).size).toBe(hooks.received.length);

    const records = await waitFor(async () => {
      const list = await deliveries('life-tenant', `?subscription_id=${subscriptionId}`);
      return list.length === hooks.received.length && list.every((d) => d.status === 'delivered') ? list : null;
    }, 10_000);
    expect(records.every((d) => d.attempt_count === 1 && d.attempts[0].status_code === 200)).toBe(true);
  });

  it('retries a failing receiver with backoff and records every attempt until one succeeds', async () => {
    const hooks = await receiver((n) => (n < 2 ? 500 : 200));
    await subscribe('flaky-tenant', hooks, ['schedule.created']);
    await scheduleIn('flaky-tenant', 3_600_000);

    const [delivery] = await waitFor(async () => {
      const list = await deliveries('flaky-tenant');
      return list.length === 1 && list[0].status === 'delivered' ? list : null;
    }, 20_000);
    expect(delivery.attempt_count).toBe(3);
    expect(delivery.attempts.map((a) => a.status_code)).toEqual([500, 500, 200]);
    // The delivery is finished: a late run of its retry job finds nothing to send.
    expect((await t.get<WebhookDeliveryService>(WebhookDeliveryService).runScheduled(delivery.id)).outcome).toBe('already_delivered');
    expect(hooks.received).toHaveLength(3);
    expect(new Set(hooks.received.map((r) => r.envelope.id))).toEqual(new Set([delivery.event_id]));
    expect(hooks.received.map((r) => r.response)).toEqual([500, 500, 200]);
    expect(await deliveries('flaky-tenant', '?status=delivered')).toHaveLength(1);
    expect(await deliveries('flaky-tenant', '?status=dead')).toHaveLength(0);
  });

  it('dead-letters a delivery after the last attempt, and redelivers it on request', async () => {
    let healthy = false;
    const hooks = await receiver(() => (healthy ? 200 : 503));
    await subscribe('down-tenant', hooks, ['schedule.*']);
    await scheduleIn('down-tenant', 3_600_000);

    const [dead] = await waitFor(async () => {
      const list = await deliveries('down-tenant', '?status=dead');
      return list.length === 1 ? list : null;
    }, 20_000);
    expect(dead.attempt_count).toBe(3);
    expect(dead.attempts.map((a) => a.status_code)).toEqual([503, 503, 503]);
    // Dead-lettered: a late run of its retry job finds nothing to send.
    expect((await t.get<WebhookDeliveryService>(WebhookDeliveryService).runScheduled(dead.id)).outcome).toBe('already_dead');
    expect(hooks.received).toHaveLength(3);

    healthy = true;
    const res = await http().post(`/notifications/deliveries/${dead.id}/redeliver`).set(bearer(tokenFor('down-tenant'))).expect(200);
    expect(res.body.delivery).toMatchObject({ status: 'delivered', redelivery_of: dead.id, event_id: dead.event_id, attempt_count: 1 });
    expect(hooks.received).toHaveLength(4);
    expect(hooks.received[3].envelope.id).toBe(dead.event_id);
    expect(hooks.received[3].signature).toBe('valid');
    await http().post(`/notifications/deliveries/${dead.id}/redeliver`).set(bearer(tokenFor('other-tenant'))).expect(404);
  });

  it('keeps a failing in-process handler away from the call path', async () => {
    const notifications = t.get<NotificationService>(NotificationService);
    const seen: string[] = [];
    const offA = notifications.registerHandler('schedule.*', () => {
      throw new Error('handler exploded');
    });
    const offB = notifications.registerHandler('schedule.created', async (event) => {
      seen.push(event.schedule_id);
    });
    try {
      const id = await scheduleIn('handler-tenant', 3_600_000);
      await waitFor(async () => seen.includes(id), 5000);
    } finally {
      offA();
      offB();
    }
    // A handler registered later for the same event runs after where the removed ones ran: once it has
    // seen the event, they would have seen it too.
    const probe: string[] = [];
    const offProbe = notifications.registerHandler('schedule.created', async (event) => {
      probe.push(event.schedule_id);
    });
    try {
      const after = await scheduleIn('handler-tenant', 3_600_000);
      await waitFor(async () => probe.includes(after), 5000);
      expect(seen).not.toContain(after);
    } finally {
      offProbe();
    }
  });

  it('runs no listener inside publish()', async () => {
    const calls: string[] = [];
    const off = t.get<NotificationService>(NotificationService).registerHandler('call.skipped', (event) => {
      calls.push(event.call_log_id);
      throw new Error('sync failure');
    });
    try {
      const event = new CallChangedEvent('call.skipped', 'log-1', null, 'handler-tenant', '+14155552671', 'skipped', null, 1, new Date().toISOString());
      expect(() => t.get<DomainEventPublisher>(DomainEventPublisher).publish(event)).not.toThrow();
      expect(calls).toEqual([]);
      await waitFor(async () => calls.length === 1, 5000);
    } finally {
      off();
    }
  });
});

describe('a subscriber that never answers (e2e)', () => {
  let t: TestApp;
  let hooks: WebhookReceiver;
  const recorder = new RecordingCallDispatcher();
  const alice = bearer(tokenFor('hang-tenant'));
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    hooks = await new WebhookReceiver(() => 'hang').start();
    t = await createTestApp({ env: { ...NOTIFY_ENV, NOTIFICATION_WEBHOOK_TIMEOUT_MS: '8000' }, override: (b) => b.overrideProvider(CallDispatcher).useValue(recorder) });
  });
  afterAll(async () => {
    await t.close();
    await hooks.stop();
  });

  async function statusCallback(callLogId: string, callSid: string, status: string) {
    const path = `/webhook/call-status?call_log_id=${callLogId}`;
    const params = { CallSid: callSid, CallStatus: status, AccountSid: 'ACsimulated00000000000000000000000', SequenceNumber: '1' };
    return http()
      .post(path)
      .set('x-twilio-signature', signTwilioRequest(t.config.simulator.signingToken, `${t.config.publicBaseUrl}${path}`, params))
      .type('form')
      .send(params);
  }

  it('dispatches and answers status webhooks while the delivery hangs, then records the timeout', async () => {
    const res = await http().post('/notifications/subscriptions').set(alice).send({ url: hooks.url, events: ['call.*'] }).expect(201);
    hooks.secret = res.body.subscription.secret;
    const created = await http().post('/schedule/').set(alice).send({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 1000).toISOString() }).expect(200);

    const schedule = await waitFor(async () => {
      const s = (await http().get(`/schedule/${created.body.schedule_id}`).set(alice).expect(200)).body.schedule;
      return s.call_id ? s : null;
    }, 15_000);
    // The dispatch finished (call.dispatched published) while its webhook is still unanswered.
    await waitFor(async () => hooks.ofType('call.dispatched').length === 1, 5000);
    const callSid: string = schedule.call_id;
    const callLogId = callSid.slice(-24);

    const ringing = await statusCallback(callLogId, callSid, 'ringing');
    expect(ringing.status).toBe(200);
    // Our response went out before the subscriber's request for the same change was even timed out.
    const pending = await http().get('/notifications/deliveries').set(alice).expect(200);
    expect(pending.body.deliveries.every((d: Delivery) => d.attempt_count === 0)).toBe(true);
    expect(hooks.received.every((r) => r.response === 'hang')).toBe(true);

    const timedOut = await waitFor(async () => {
      const list: Delivery[] = (await http().get('/notifications/deliveries?status=retrying').set(alice).expect(200)).body.deliveries;
      return list.find((d) => d.event_type === 'call.dispatched');
    }, 15_000);
    expect(timedOut.attempts[0]).toMatchObject({ status_code: null, error: expect.stringContaining('timed out') });
  });
});
