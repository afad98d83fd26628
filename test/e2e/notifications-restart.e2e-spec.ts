import request from 'supertest';
import { Clock } from '../../src/common/clock/clock';
import { NotificationMaintenanceJob } from '../../src/notification/notification-maintenance.job';
import { NotificationEventRepository } from '../../src/notification/notification-event.repository';
import { WebhookDeliveryRepository } from '../../src/notification/webhook-delivery.repository';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';
import { WebhookReceiver } from '../utils/webhook-receiver';

const alice = bearer(tokenFor('alice', { tenantId: 'tenant-a' }));
const bob = bearer(tokenFor('bob', { tenantId: 'tenant-b' }));

type Delivery = { id: string; status: string; attempts: Array<{ status_code: number | null }> };

describe('webhook retries across a restart (e2e)', () => {
  let hooks: WebhookReceiver;
  let healthy = false;

  beforeAll(async () => {
    hooks = await new WebhookReceiver(() => (healthy ? 200 : 500)).start();
  });
  afterAll(() => hooks.stop());

  it('delivers a retry that was pending when the instance stopped, from the next instance', async () => {
    const config = testConfig({ NOTIFICATION_ALLOW_PRIVATE_URLS: 'true', NOTIFICATION_RETRY_DELAYS_MS: '4000,4000' });
    const first = await createTestApp({ config });
    const http1 = () => request(first.app.getHttpServer());
    const sub = await http1().post('/notifications/subscriptions').set(alice).send({ url: hooks.url, events: ['schedule.created'] }).expect(201);
    hooks.secret = sub.body.subscription.secret;
    await http1().post('/schedule/').set(alice).send({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 3_600_000).toISOString() }).expect(200);
    const [retrying] = await waitFor(async () => {
      const list: Delivery[] = (await http1().get('/notifications/deliveries?status=retrying').set(alice).expect(200)).body.deliveries;
      return list.length === 1 ? list : null;
    }, 10_000);
    expect(retrying.attempts.map((a) => a.status_code)).toEqual([500]);
    await first.close();
    const stoppedAt = Date.now();
    healthy = true;

    const second = await createTestApp({ config });
    try {
      const done = await waitFor(async () => {
        const res = await request(second.app.getHttpServer()).get(`/notifications/deliveries/${retrying.id}`).set(alice).expect(200);
        return res.body.delivery.status === 'delivered' ? res.body.delivery : null;
      }, 20_000);
      expect(done.attempts.map((a: { status_code: number }) => a.status_code)).toEqual([500, 200]);
      expect(hooks.received).toHaveLength(2);
      expect(hooks.received[1].at).toBeGreaterThan(stoppedAt);
      expect(hooks.received[1].signature).toBe('valid');
      expect(hooks.received[1].envelope.id).toBe(hooks.received[0].envelope.id);
    } finally {
      await second.close();
    }
  });
});

describe('notification maintenance (e2e)', () => {
  let t: TestApp;
  let hooks: WebhookReceiver;
  const clock = new TestClock();
  const http = () => request(t.app.getHttpServer());
  // A week out: the age-cap test advances the injected clock past an hour, and the sweeper reads that same
  // clock, so a schedule an hour out would be dialed and its call.completed would reach the next test's hook.
  const createSchedule = (auth: Record<string, string>) =>
    http().post('/schedule/').set(auth).send({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 7 * 86_400_000).toISOString() }).expect(200);

  beforeAll(async () => {
    hooks = await new WebhookReceiver().start();
    t = await createTestApp({
      env: { NOTIFICATION_ALLOW_PRIVATE_URLS: 'true', NOTIFICATION_HISTORY_MAX_PER_TENANT: '3', NOTIFICATION_HISTORY_MAX_AGE_SECONDS: '3600' },
      override: (b) => b.overrideProvider(Clock).useValue(clock),
    });
  });
  afterAll(async () => {
    await t.close();
    await hooks.stop();
  });
  beforeEach(() => clock.set(new Date()));

  it('caps the event history per tenant and by age', async () => {
    const events = t.get<NotificationEventRepository>(NotificationEventRepository);
    const history = async (tenantId: string) => (await events.listAfter({ tenantId, allTenants: false }, '000000000000000000000000', 100)).map((e) => e.data.schedule_id);
    const forA: string[] = [];
    for (let i = 0; i < 5; i++) forA.push((await createSchedule(alice)).body.schedule_id);
    const forB = [(await createSchedule(bob)).body.schedule_id];
    await waitFor(async () => (await history('tenant-a')).length === 5 && (await history('tenant-b')).length === 1, 5000);

    await t.get<NotificationMaintenanceJob>(NotificationMaintenanceJob).handle();
    expect(await history('tenant-a')).toEqual(forA.slice(2));
    expect(await history('tenant-b')).toEqual(forB);

    clock.advance(3601_000);
    await t.get<NotificationMaintenanceJob>(NotificationMaintenanceJob).handle();
    expect(await history('tenant-a')).toEqual([]);
    expect(await history('tenant-b')).toEqual([]);
  });

  it('re-arms a delivery whose instance died before its first attempt', async () => {
    const sub = await http().post('/notifications/subscriptions').set(bob).send({ url: hooks.url, events: ['call.completed'] }).expect(201);
    hooks.secret = sub.body.subscription.secret;
    const payload = JSON.stringify({ id: '65f000000000000000000001', type: 'call.completed', created_at: new Date().toISOString(), data: {} });
    // Written five minutes ago as fanOut writes it, but never attempted: the process "crashed" right after.
    clock.set(new Date(Date.now() - 5 * 60_000));
    const stranded = await t.get<WebhookDeliveryRepository>(WebhookDeliveryRepository).create(
      { tenant_id: 'tenant-b', subscription_id: sub.body.subscription.id, event_id: '65f000000000000000000001', event_type: 'call.completed', payload, redelivery_of: null },
      clock.now(),
    );
    clock.set(new Date());
    const outcome = await t.get<NotificationMaintenanceJob>(NotificationMaintenanceJob).handle();
    expect(outcome.outcome).toContain('rearmed=1');
    const done = await waitFor(async () => {
      const res = await http().get(`/notifications/deliveries/${stranded.id}`).set(bob).expect(200);
      return res.body.delivery.status === 'delivered' ? res.body.delivery : null;
    }, 15_000);
    expect(done.attempt_count).toBe(1);
    expect(hooks.received.map((r) => r.body)).toEqual([payload]);
    expect(hooks.received[0].signature).toBe('valid');
  });
});
