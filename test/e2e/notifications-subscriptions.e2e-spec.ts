import request from 'supertest';
import { WebhookDeliveryService } from '../../src/notification/webhook-delivery.service';
import { WebhookSubscriptionRepository } from '../../src/notification/webhook-subscription.repository';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';
import { WebhookReceiver } from '../utils/webhook-receiver';

const alice = bearer(tokenFor('alice', { tenantId: 'tenant-a' }));
const bob = bearer(tokenFor('bob', { tenantId: 'tenant-b' }));

describe('webhook subscription API (e2e)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await createTestApp({ env: { NOTIFICATION_ALLOW_PRIVATE_URLS: 'true' } });
  });
  afterAll(() => t.close());

  it('creates, reads, updates and deletes a subscription; the secret is shown once', async () => {
    const created = await http()
      .post('/notifications/subscriptions')
      .set(alice)
      .send({ url: 'http://127.0.0.1:9/hooks', events: ['call.*', 'schedule.created'], description: 'CRM' })
      .expect(201);
    const sub = created.body.subscription;
    expect(sub).toMatchObject({ url: 'http://127.0.0.1:9/hooks', events: ['call.*', 'schedule.created'], active: true, tenant_id: 'tenant-a', description: 'CRM' });
    expect(sub.secret).toMatch(/^whsec_/);
    expect(sub.secret_hint).toBe(`…${sub.secret.slice(-4)}`);

    const read = await http().get(`/notifications/subscriptions/${sub.id}`).set(alice).expect(200);
    expect(read.body.subscription.secret).toBeUndefined();
    const listed = await http().get('/notifications/subscriptions').set(alice).expect(200);
    expect(listed.body.subscriptions.map((s: { id: string }) => s.id)).toEqual([sub.id]);
    expect(JSON.stringify(listed.body)).not.toContain(sub.secret);

    const patched = await http().patch(`/notifications/subscriptions/${sub.id}`).set(alice).send({ active: false, events: ['call.completed'] }).expect(200);
    expect(patched.body.subscription).toMatchObject({ active: false, events: ['call.completed'], url: 'http://127.0.0.1:9/hooks' });
    const put = await http().put(`/notifications/subscriptions/${sub.id}`).set(alice).send({ active: true }).expect(200);
    expect(put.body.subscription).toMatchObject({ active: true, events: ['call.completed'] });
    await http().patch(`/notifications/subscriptions/${sub.id}`).set(alice).send({ secret: 'x'.repeat(20) }).expect(400);

    await http().delete(`/notifications/subscriptions/${sub.id}`).set(alice).expect(200);
    await http().get(`/notifications/subscriptions/${sub.id}`).set(alice).expect(404);
  });

  it('keeps a caller-chosen secret', async () => {
    const res = await http().post('/notifications/subscriptions').set(alice).send({ url: 'https://127.0.0.1/h', events: ['*'], secret: 'my-own-secret-0123456789' }).expect(201);
    expect(res.body.subscription.secret).toBe('my-own-secret-0123456789');
  });

  it('validates URLs and event patterns', async () => {
    const post = (body: object) => http().post('/notifications/subscriptions').set(alice).send(body);
    expect((await post({ url: 'ftp://127.0.0.1/x', events: ['call.*'] }).expect(400)).body.error_code).toBe('NOTIFICATION_001');
    expect((await post({ url: 'not a url', events: ['call.*'] }).expect(400)).body.error_code).toBe('NOTIFICATION_001');
    expect((await post({ url: 'http://user:pw@127.0.0.1/x', events: ['call.*'] }).expect(400)).body.error_code).toBe('NOTIFICATION_001');
    const unknown = await post({ url: 'http://127.0.0.1/x', events: ['call.*', 'call.exploded'] }).expect(400);
    expect(unknown.body).toMatchObject({ error_code: 'NOTIFICATION_003', details: { field: 'events' } });
    expect((await post({ url: 'http://127.0.0.1/x', events: [] }).expect(400)).body.error_code).toBe('NOTIFICATION_003');
    expect((await post({ url: 'http://127.0.0.1/x', events: ['billing.*'] }).expect(400)).body.error_code).toBe('NOTIFICATION_003');
    expect((await post({ url: 'http://127.0.0.1/x', events: ['call.*'], secret: 'short' }).expect(400)).body.details.field).toBe('secret');
  });

  it("never lets one tenant see, change or delete another tenant's subscriptions or deliveries", async () => {
    const res = await http().post('/notifications/subscriptions').set(alice).send({ url: 'http://127.0.0.1:9/a', events: ['call.*'] }).expect(201);
    const id = res.body.subscription.id;
    for (const call of [
      http().get(`/notifications/subscriptions/${id}`),
      http().patch(`/notifications/subscriptions/${id}`).send({ active: false }),
      http().put(`/notifications/subscriptions/${id}`).send({ url: 'http://127.0.0.1:9/b' }),
      http().delete(`/notifications/subscriptions/${id}`),
    ]) {
      const r = await call.set(bob).expect(404);
      expect(r.body.error_code).toBe('NOTIFICATION_004');
    }
    const bobsList = await http().get('/notifications/subscriptions').set(bob).expect(200);
    expect(bobsList.body.subscriptions).toEqual([]);
    const bobsDeliveries = await http().get(`/notifications/deliveries?subscription_id=${id}`).set(bob).expect(200);
    expect(bobsDeliveries.body.deliveries).toEqual([]);
    const still = await http().get(`/notifications/subscriptions/${id}`).set(alice).expect(200);
    expect(still.body.subscription).toMatchObject({ active: true, url: 'http://127.0.0.1:9/a' });
    await http().get('/notifications/subscriptions/not-an-id').set(alice).expect(404);
    await http().get('/notifications/subscriptions').expect(401);
  });
});

describe('webhook SSRF guard (e2e, private targets refused)', () => {
  let t: TestApp;
  let hooks: WebhookReceiver;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    hooks = await new WebhookReceiver().start();
    t = await createTestApp({ env: { NOTIFICATION_ALLOW_PRIVATE_URLS: 'false', NOTIFICATION_RETRY_DELAYS_MS: '' } });
  });
  afterAll(async () => {
    await t.close();
    await hooks.stop();
  });

  it.each([
    'http://127.0.0.1:8080/x',
    'http://localhost/x',
    'http://[::1]/x',
    'http://[::ffff:127.0.0.1]/x',
    'http://10.0.0.7/x',
    'http://172.20.1.1/x',
    'http://192.168.0.10/x',
    'http://100.64.1.1/x',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00::1]/x',
    'http://[fe80::1]/x',
    'http://0.0.0.0/x',
    'http://2130706433/x',
  ])('refuses %s at registration', async (url) => {
    const res = await http().post('/notifications/subscriptions').set(alice).send({ url, events: ['call.*'] }).expect(400);
    expect(res.body.error_code).toBe('NOTIFICATION_002');
    expect(res.body.details.field).toBe('url');
  });

  it('accepts a public address, and refuses to move it to a private one', async () => {
    const res = await http().post('/notifications/subscriptions').set(alice).send({ url: 'https://93.184.216.34/hooks', events: ['call.*'], active: false }).expect(201);
    const moved = await http().patch(`/notifications/subscriptions/${res.body.subscription.id}`).set(alice).send({ url: 'http://127.0.0.1/x' }).expect(400);
    expect(moved.body.error_code).toBe('NOTIFICATION_002');
  });

  it('checks the address again at delivery time (a name that now resolves to a private address)', async () => {
    // Stands in for DNS rebinding: the stored URL passed the check once, and now points at loopback.
    const now = new Date();
    await t.get<WebhookSubscriptionRepository>(WebhookSubscriptionRepository).create({
      tenant_id: 'tenant-a', url: hooks.url, events: ['schedule.created'], secret: 'whsec_rebinding_case_0000', active: true, description: null, created_by: 'alice', created_at: now, updated_at: now,
    });
    await http().post('/schedule/').set(alice).send({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 3_600_000).toISOString() }).expect(200);
    const [dead] = await waitFor(async () => {
      const list = (await http().get('/notifications/deliveries?status=dead').set(alice).expect(200)).body.deliveries;
      return list.length === 1 ? list : null;
    }, 10_000);
    expect(dead.attempts[0]).toMatchObject({ status_code: null, error: expect.stringContaining('loopback') });
    // Its one attempt is over, refused before any connection; a later run of its job sends nothing either.
    expect((await t.get<WebhookDeliveryService>(WebhookDeliveryService).runScheduled(dead.id)).outcome).toBe('already_dead');
    expect(hooks.received).toHaveLength(0);
  });
});
