import { getConnectionToken } from '@nestjs/mongoose';
import { Connection, Types } from 'mongoose';
import request from 'supertest';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { startLatencyProxy, LatencyProxy } from '../utils/latency-proxy';
import { createTestApp, TestApp } from '../utils/test-app';
import { testDatabaseUri } from '../utils/test-config';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

// As in claim-reply-lost: long enough for the app's start-up commands on a loaded CI machine.
const SOCKET_TIMEOUT_MS = 10_000;
const TENANT = 'tenant-create-reply-lost';
const owner = bearer(tokenFor('create-reply-lost', { tenantId: TENANT }));
// The insert command on idempotency_keys: its name, then the collection as a BSON string.
const KEY_INSERT = /\x02insert\x00[\s\S]{4}idempotency_keys\x00/;
const SCHEDULE_INSERT = /\x02insert\x00[\s\S]{4}call_schedules\x00/;
// A read of one schedule by its _id: insertEach's check whether a duplicate is its own document.
const SCHEDULE_READ_BY_ID = /\x02find\x00[\s\S]{4}call_schedules\x00\x03filter\x00[\s\S]{4}\x07_id\x00/;

// An Idempotency-Key is reserved before the schedule is inserted. When the reservation is stored but its
// reply is lost, the client is answered with an error and the key names a schedule that was never created
// (as it does when the process stops between the two writes). The client's retry under the same key must
// create that schedule, once, not be refused for as long as the key is kept.
describe("a create whose Idempotency-Key reservation's reply is lost (e2e, real database)", () => {
  let t: TestApp;
  let proxy: LatencyProxy;
  let db: Connection;
  const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
  const create = (key: string, phone: string) =>
    request(t.app.getHttpServer())
      .post('/schedule/')
      .set(owner)
      .set('Idempotency-Key', key)
      .send({ phone, scheduled_time: inAnHour });

  const schedulesTo = (phone: string) => db.collection('call_schedules').find({ tenant_id: TENANT, phone }).toArray();
  // The create's records, stored after its answer: each once.
  const expectAnnouncedOnce = async (id: string) => {
    await waitFor(async () => (await db.collection('schedule_outbox_pending').countDocuments({ _id: `${id}:created` as never })) === 0, 10_000);
    expect(await db.collection('notification_events').countDocuments({ type: 'schedule.created', 'data.schedule_id': id })).toBe(1);
    expect(await db.collection('schedule_events').countDocuments({ schedule_id: id, type: 'created' })).toBe(1);
    expect(await db.collection('audit_entries').countDocuments({ _id: new Types.ObjectId(id) as never })).toBe(1);
  };

  beforeAll(async () => {
    proxy = await startLatencyProxy(testDatabaseUri());
    t = await createTestApp({ env: { MONGODB_URI: proxy.uri, MONGODB_SOCKET_TIMEOUT_MS: String(SOCKET_TIMEOUT_MS), SCHEDULER_ENABLED: 'false' } });
    db = t.get<Connection>(getConnectionToken());
  }, 60_000);
  afterEach(() => proxy.pendingSwallows(true));
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it('is answered with an error; the retry under the same key creates the schedule under the reserved id, once', async () => {
    const phone = '+14155552681';
    // The reservation's insertMany, then its one document's insertOne: both stored, neither answered.
    proxy.swallowReplyTo(KEY_INSERT, 2);
    const failed = await create('reply-lost-1', phone);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(proxy.pendingSwallows()).toBe(0);
    const reservation = await db.collection('idempotency_keys').findOne({ tenant_id: TENANT, key: 'reply-lost-1' });
    expect(reservation).not.toBeNull();
    expect(await db.collection('call_schedules').countDocuments({ tenant_id: TENANT, phone })).toBe(0);

    const retry = await create('reply-lost-1', phone);
    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(retry.body.schedule_id).toBe(reservation!.resource_id);
    const again = await create('reply-lost-1', phone).expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.schedule_id).toBe(reservation!.resource_id);
    expect(await schedulesTo(phone)).toHaveLength(1);
    await expectAnnouncedOnce(retry.body.schedule_id);
  }, 90_000);

  it("a schedule insert whose reply is lost, and its check too, is read back and answered as made, once", async () => {
    const phone = '+14155552683';
    // The batch's insertMany; its document's insertOne then meets the stored schedule, and the read of it
    // by _id goes unanswered, and so does the driver's own retry of that read.
    proxy.swallowReplyTo(SCHEDULE_INSERT);
    proxy.swallowReplyTo(SCHEDULE_READ_BY_ID, 2);
    const res = await create('insert-lost-1', phone);
    expect(proxy.pendingSwallows()).toBe(0);
    expect(res.status).toBe(200);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect((await schedulesTo(phone)).map((s) => [String(s._id), s.deleted_at ?? null])).toEqual([[res.body.schedule_id, null]]);
    await expectAnnouncedOnce(res.body.schedule_id);
    const again = await create('insert-lost-1', phone).expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.schedule_id).toBe(res.body.schedule_id);
  }, 90_000);

  it('without an Idempotency-Key, a schedule insert whose reply and every check are lost is undone: the client was answered with an error', async () => {
    const phone = '+14155552684';
    // As above, and the create's own read-back and the driver's retry of it go unanswered too.
    proxy.swallowReplyTo(SCHEDULE_INSERT);
    proxy.swallowReplyTo(SCHEDULE_READ_BY_ID, 4);
    const res = await request(t.app.getHttpServer()).post('/schedule/').set(owner).send({ phone, scheduled_time: inAnHour });
    expect(proxy.pendingSwallows()).toBe(0);
    expect(res.status).toBeGreaterThanOrEqual(500);
    const stored = await schedulesTo(phone);
    expect(stored).toHaveLength(1);
    // Deleted at its own creation time: never made, never announced.
    expect(stored[0].deleted_at).toEqual(stored[0].created_at);
  }, 120_000);

  it('a first request slower than the retry waits: the retry creates the schedule, and the first one meets it as a duplicate and answers it', async () => {
    const phone = '+14155552682';
    const repository = t.get<ScheduleRepository>(ScheduleRepository);
    const insert = repository.insertSchedule.bind(repository);
    let letFirstInsert!: () => void;
    const firstMayInsert = new Promise<void>((resolve) => (letFirstInsert = resolve));
    const held = jest.spyOn(repository, 'insertSchedule').mockImplementationOnce(async (...args) => {
      await firstMayInsert;
      return insert(...args);
    });
    try {
      const first = create('slow-first-1', phone).then((res) => res);
      await waitFor(() => db.collection('idempotency_keys').findOne({ tenant_id: TENANT, key: 'slow-first-1' }), 10_000);
      const retry = await create('slow-first-1', phone);
      expect(retry.status).toBe(200);
      expect(retry.headers['idempotent-replayed']).toBeUndefined();
      letFirstInsert();
      const answered = await first;
      expect(answered.status).toBe(200);
      expect(answered.headers['idempotent-replayed']).toBe('true');
      expect(answered.body.schedule_id).toBe(retry.body.schedule_id);
      expect((await schedulesTo(phone)).map((s) => [String(s._id), s.deleted_at ?? null])).toEqual([[retry.body.schedule_id, null]]);
      await expectAnnouncedOnce(retry.body.schedule_id);
    } finally {
      letFirstInsert();
      held.mockRestore();
    }
  }, 90_000);
});
