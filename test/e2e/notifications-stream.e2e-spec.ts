import request from 'supertest';
import { NotificationStreamService } from '../../src/notification/notification-stream.service';
import { SseClient } from '../utils/sse-client';
import { createTestApp, TestApp } from '../utils/test-app';
import { tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const tokenA = tokenFor('alice', { tenantId: 'tenant-a' });
const tokenB = tokenFor('bob', { tenantId: 'tenant-b' });
const tokenAdmin = tokenFor('root', { tenantId: 'ops', roles: ['admin'] });
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('notification stream over SSE (e2e)', () => {
  let t: TestApp;
  const open: SseClient[] = [];

  const connect = async (token: string, query = '', headers: Record<string, string> = {}) => {
    const client = await SseClient.open(`${t.url}/notifications/stream${query}`, { ...auth(token), ...headers });
    open.push(client);
    return client;
  };
  const createSchedule = async (token: string): Promise<string> =>
    (await request(t.app.getHttpServer()).post('/schedule/').set(auth(token)).send({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 3_600_000).toISOString() }).expect(200)).body.schedule_id;
  const scheduleIds = (client: SseClient) => client.envelopes().map((e) => e.data.schedule_id as string);

  beforeAll(async () => {
    t = await createTestApp({ env: { NOTIFICATION_STREAM_HEARTBEAT_MS: '200', NOTIFICATION_STREAM_POLL_MS: '100' } });
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  afterAll(async () => {
    if (t) await t.close();
  });

  it("streams each tenant only its own events; an admin may ask for all tenants", async () => {
    const a = await connect(tokenA);
    const b = await connect(tokenB);
    const admin = await connect(tokenAdmin, '?all=true');
    const adminOwn = await connect(tokenAdmin);
    expect([a.status, b.status, admin.status, adminOwn.status]).toEqual([200, 200, 200, 200]);

    const forA = [await createSchedule(tokenA), await createSchedule(tokenA)];
    const forB = [await createSchedule(tokenB)];
    await waitFor(async () => a.messages.length >= 2 && b.messages.length >= 1 && admin.messages.length >= 3, 10_000);
    await waitFor(async () => a.comments.some((c) => c.startsWith('heartbeat')), 5000);

    expect(scheduleIds(a)).toEqual(forA);
    expect(scheduleIds(b)).toEqual(forB);
    expect(new Set(scheduleIds(admin))).toEqual(new Set([...forA, ...forB]));
    expect(adminOwn.messages).toEqual([]);
    for (const m of a.messages) {
      expect(m.event).toBe('schedule.created');
      const envelope = JSON.parse(m.data);
      expect(envelope).toMatchObject({ id: m.id, type: 'schedule.created', data: { tenant_id: 'tenant-a' } });
    }
    expect(b.envelopes().every((e) => e.data.tenant_id === 'tenant-b')).toBe(true);
  });

  it('refuses ?all=true to a non-admin and a malformed Last-Event-ID', async () => {
    expect((await connect(tokenA, '?all=true')).status).toBe(403);
    expect((await connect(tokenA, '', { 'Last-Event-ID': 'nope' })).status).toBe(400);
    expect((await SseClient.open(`${t.url}/notifications/stream`, {})).status).toBe(401);
  });

  it('resumes after Last-Event-ID from the stored history, in order, then continues live', async () => {
    const first = await connect(tokenA);
    const seen = [await createSchedule(tokenA), await createSchedule(tokenA)];
    await waitFor(async () => first.messages.length === 2, 10_000);
    const lastId = first.messages[0].id!;
    first.close();

    const missed = [await createSchedule(tokenA), await createSchedule(tokenA)];
    await createSchedule(tokenB);
    const resumed = await connect(tokenA, '', { 'Last-Event-ID': lastId });
    await waitFor(async () => resumed.messages.length >= 3, 10_000);
    expect(scheduleIds(resumed)).toEqual([seen[1], ...missed]);

    const live = await createSchedule(tokenA);
    await waitFor(async () => resumed.messages.length === 4, 10_000);
    expect(scheduleIds(resumed)).toEqual([seen[1], ...missed, live]);
    const ids = resumed.messages.map((m) => m.id!);
    expect([...ids].sort()).toEqual(ids);
  });

  it('ends a stream opened once shutdown has ended the others at once, so it cannot hold the server open', async () => {
    const own = await createTestApp({ env: { NOTIFICATION_STREAM_HEARTBEAT_MS: '200' } });
    try {
      const before = await SseClient.open(`${own.url}/notifications/stream`, auth(tokenA));
      open.push(before);
      // What app.close() does first, while the HTTP server still accepts requests.
      own.get<NotificationStreamService>(NotificationStreamService).onModuleDestroy();
      await waitFor(async () => before.ended, 5000);
      const during = await SseClient.open(`${own.url}/notifications/stream`, auth(tokenA));
      open.push(during);
      expect(during.status).toBe(200);
      await waitFor(async () => during.ended, 5000);
      expect(during.messages).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it('ends open streams when the app shuts down', async () => {
    const client = await connect(tokenA);
    await t.close();
    await waitFor(async () => client.ended, 5000);
    t = undefined as unknown as TestApp;
  });
});
