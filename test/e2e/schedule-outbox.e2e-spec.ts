import { getConnectionToken, getModelToken } from '@nestjs/mongoose';
import { Connection, Model, Types } from 'mongoose';
import request from 'supertest';
import { ScheduleOutbox } from '../../src/schedule/schedule-outbox';
import { CallScheduleDoc } from '../../src/schedule/schemas/call-schedule.schema';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';

const alice = bearer(tokenFor('alice', { tenantId: 'tenant-outbox' }));

// A schedule change's events (its notification and its history entry) ride in the write that makes the
// change: the write gate records them with it, and they are stored before the schedule is written. A
// process that stops in between leaves them stored, and whoever finishes its change stores nothing twice.
describe("a schedule change's events are stored with the change (e2e)", () => {
  let t: TestApp;
  let db: Connection;
  let schedules: Model<CallScheduleDoc>;
  const http = () => request(t.app.getHttpServer());
  const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
  const create = (key?: string) => {
    const req = http().post('/schedule/').set(alice);
    if (key) req.set('Idempotency-Key', key);
    return req.send({ phone: '+14155552671', scheduled_time: inAnHour });
  };
  const notices = (scheduleId: string, type: string) => db.collection('notification_events').find({ type, 'data.schedule_id': scheduleId }).toArray();
  const history = (scheduleId: string, type: string) => db.collection('schedule_events').find({ schedule_id: scheduleId, type }).toArray();
  const stored = (scheduleId: string) => db.collection('call_schedules').findOne({ _id: new Types.ObjectId(scheduleId) });

  beforeAll(async () => {
    t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false' } });
    db = t.get<Connection>(getConnectionToken());
    schedules = t.get<Model<CallScheduleDoc>>(getModelToken(CallScheduleDoc.name));
  });
  afterAll(() => t.close());

  it('stores a pause once, with the pause, and after it the schedule reads paused', async () => {
    const id = (await create().expect(200)).body.schedule_id as string;
    await http().post(`/schedule/${id}/pause`).set(alice).expect(200);
    expect((await stored(id))?.status).toBe('paused');
    const [notice] = await notices(id, 'schedule.paused');
    expect(notice.data).toMatchObject({ schedule_id: id, status: 'paused' });
    expect(await notices(id, 'schedule.paused')).toHaveLength(1);
    expect(await history(id, 'paused')).toHaveLength(1);
    expect(await notices(id, 'schedule.created')).toHaveLength(1);
    expect(await history(id, 'created')).toHaveLength(1);
  });

  it('a pause cut off between storing its events and writing the schedule: the events are stored; the retry finishes the pause and stores nothing twice', async () => {
    const id = (await create().expect(200)).body.schedule_id as string;
    const rev = ((await stored(id))?.rev as number | undefined) ?? 0;
    const stop = jest.spyOn(schedules, 'bulkWrite').mockRejectedValueOnce(new Error('process stopped'));
    try {
      await http().post(`/schedule/${id}/pause`).set(alice).expect(500);
    } finally {
      stop.mockRestore();
    }
    expect((await stored(id))?.status).toBe('scheduled');
    expect(await notices(id, 'schedule.paused')).toHaveLength(1);
    expect(await history(id, 'paused')).toHaveLength(1);

    // The stopped process's gate, old enough (wall time) for a waiting writer to take its change over.
    await db.collection('schedule_write_gates').updateOne({ _id: `${id}:${rev}` as never }, { $set: { at: new Date(Date.now() - 20_000) } });
    // The client's retry waits on that gate, writes the stopped pause, and then finds the schedule paused.
    const retry = await http().post(`/schedule/${id}/pause`).set(alice).expect(409);
    expect(retry.body).toMatchObject({ status: 'error', error_code: expect.any(String) });
    expect(await stored(id)).toMatchObject({ status: 'paused', rev: rev + 1 });
    expect(await notices(id, 'schedule.paused')).toHaveLength(1);
    expect(await history(id, 'paused')).toHaveLength(1);
  });

  it('a create cut off between its insert and its events: the retry under the same Idempotency-Key stores them, once', async () => {
    const outbox = t.get<ScheduleOutbox>(ScheduleOutbox);
    const stop = jest.spyOn(outbox, 'recordCreated').mockRejectedValueOnce(new Error('process stopped'));
    try {
      await create('outbox-create-1').expect(500);
    } finally {
      stop.mockRestore();
    }
    const first = await create('outbox-create-1').expect(200);
    const id = first.body.schedule_id as string;
    expect(await notices(id, 'schedule.created')).toHaveLength(1);
    expect(await history(id, 'created')).toHaveLength(1);

    await create('outbox-create-1').expect(200);
    expect(await notices(id, 'schedule.created')).toHaveLength(1);
    expect(await history(id, 'created')).toHaveLength(1);
  });
});
