import { getConnectionToken, getModelToken } from '@nestjs/mongoose';
import { Connection, Model, Types } from 'mongoose';
import request from 'supertest';
import { ScheduleReconcileJob } from '../../src/schedule/dispatch/schedule-reconcile.job';
import { ScheduleCreationRelay } from '../../src/schedule/schedule-creation.relay';
import { ScheduleOutbox } from '../../src/schedule/schedule-outbox';
import { CallScheduleDoc } from '../../src/schedule/schemas/call-schedule.schema';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

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
  // A pause whose process stops at `stop` (a fault there, once): the client gets a 500.
  const cutOffPause = async (scheduleId: string, stop: jest.SpyInstance) => {
    stop.mockRejectedValueOnce(new Error('process stopped'));
    try {
      await http().post(`/schedule/${scheduleId}/pause`).set(alice).expect(500);
    } finally {
      stop.mockRestore();
    }
  };
  // A new schedule whose pause stops at `stopAt`: its id, and the revision the pause was to move it from.
  const newScheduleWithCutOffPause = async (stopAt: () => jest.SpyInstance) => {
    const id = (await create().expect(200)).body.schedule_id as string;
    const rev = ((await stored(id))?.rev as number | undefined) ?? 0;
    await cutOffPause(id, stopAt());
    return { id, rev };
  };
  const expectPauseRecordedOnce = async (scheduleId: string) => {
    expect(await notices(scheduleId, 'schedule.paused')).toHaveLength(1);
    expect(await history(scheduleId, 'paused')).toHaveLength(1);
  };
  // The stopped process's gate, old enough (wall time) for a waiting writer to take its change over.
  const ageGate = (scheduleId: string, rev: number) =>
    db.collection('schedule_write_gates').updateOne({ _id: `${scheduleId}:${rev}` as never }, { $set: { at: new Date(Date.now() - 20_000) } });

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
    await expectPauseRecordedOnce(id);
    // The create's own events follow its answer.
    await waitFor(async () => (await notices(id, 'schedule.created')).length === 1, 5000);
    expect(await history(id, 'created')).toHaveLength(1);
  });

  it('a pause cut off between storing its events and writing the schedule: the events are stored; the retry finishes the pause and stores nothing twice', async () => {
    const { id, rev } = await newScheduleWithCutOffPause(() => jest.spyOn(schedules, 'bulkWrite'));
    expect((await stored(id))?.status).toBe('scheduled');
    await expectPauseRecordedOnce(id);

    await ageGate(id, rev);
    // The client's retry waits on that gate, writes the stopped pause, and then finds the schedule paused.
    const retry = await http().post(`/schedule/${id}/pause`).set(alice).expect(409);
    expect(retry.body).toMatchObject({ status: 'error', error_code: expect.any(String) });
    expect(await stored(id)).toMatchObject({ status: 'paused', rev: rev + 1 });
    await expectPauseRecordedOnce(id);
  });

  it('a pause cut off before its write and never retried: the reconcile pass writes it once its gate is old enough', async () => {
    const { id, rev } = await newScheduleWithCutOffPause(() => jest.spyOn(schedules, 'bulkWrite'));
    const reconcile = t.get<ScheduleReconcileJob>(ScheduleReconcileJob);
    // The gate is fresh: its writer may still be writing.
    expect((await reconcile.handle()).outcome).toMatch(/stalled_changes=0/);
    expect((await stored(id))?.status).toBe('scheduled');

    await ageGate(id, rev);
    expect((await reconcile.handle()).outcome).toMatch(/stalled_changes=1/);
    expect(await stored(id)).toMatchObject({ status: 'paused', rev: rev + 1 });
    await expectPauseRecordedOnce(id);
    expect(await db.collection('schedule_outbox_pending').countDocuments({ _id: `${id}:${rev + 1}` as never })).toBe(0);
    expect((await reconcile.handle()).outcome).toMatch(/stalled_changes=0/);
  });

  it('a pause cut off before its events were stored: the change its gate recorded is written with its events by the pass, once', async () => {
    const { id, rev } = await newScheduleWithCutOffPause(() => jest.spyOn(t.get<ScheduleOutbox>(ScheduleOutbox), 'store'));
    expect(await notices(id, 'schedule.paused')).toHaveLength(0);
    expect((await stored(id))?.status).toBe('scheduled');

    await ageGate(id, rev);
    expect((await t.get<ScheduleReconcileJob>(ScheduleReconcileJob).handle()).outcome).toMatch(/stalled_changes=1/);
    expect(await stored(id)).toMatchObject({ status: 'paused', rev: rev + 1 });
    const [notice] = await notices(id, 'schedule.paused');
    expect(notice.data).toMatchObject({ schedule_id: id, status: 'paused' });
    await expectPauseRecordedOnce(id);
  });

  const creationMarkers = async () => (await db.collection('schedule_outbox_pending').find({}).toArray()).filter((m) => String(m._id).endsWith(':created'));
  const auditOf = (scheduleId: string) => db.collection('audit_entries').find({ _id: new Types.ObjectId(scheduleId) as never }).toArray();

  it('answers after its marker and its insert; its events and audit entry are stored after the answer, once, and the marker goes', async () => {
    const outbox = t.get<ScheduleOutbox>(ScheduleOutbox);
    const recordCreated = outbox.recordCreated.bind(outbox);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const hold = jest.spyOn(outbox, 'recordCreated').mockImplementationOnce(async (...args) => {
      await held;
      return recordCreated(...args);
    });
    try {
      const id = (await create().set('X-Request-Id', 'outbox-create-after').expect(200)).body.schedule_id as string;
      // Answered while its events were still held.
      expect(await notices(id, 'schedule.created')).toHaveLength(0);
      expect(await history(id, 'created')).toHaveLength(0);
      expect((await creationMarkers()).map((m) => String(m._id))).toContain(`${id}:created`);
      release();
      await waitFor(async () => (await db.collection('schedule_outbox_pending').countDocuments({ _id: `${id}:created` as never })) === 0, 5000);
      expect(await notices(id, 'schedule.created')).toHaveLength(1);
      expect(await history(id, 'created')).toHaveLength(1);
      const [entry] = await auditOf(id);
      expect(entry).toMatchObject({ actor: 'alice', tenant_id: 'tenant-outbox', action: 'schedule.create', method: 'POST', target_id: id, request_id: 'outbox-create-after', outcome: 'success', status_code: 200, error_code: null });
    } finally {
      release();
      hold.mockRestore();
    }
  });

  it('a create whose process stops after its answer: the marker carries its audit entry, and the reconcile pass stores it and the events once the marker is old', async () => {
    const relay = t.get<ScheduleCreationRelay>(ScheduleCreationRelay);
    const stop = jest.spyOn(relay, 'store').mockRejectedValueOnce(new Error('process stopped'));
    let id: string;
    try {
      id = (await create().set('X-Request-Id', 'outbox-create-stopped').expect(200)).body.schedule_id as string;
    } finally {
      stop.mockRestore();
    }
    const marker = await waitFor(async () => (await creationMarkers()).find((m) => String(m._id) === `${id}:created`), 5000);
    expect(marker.audit).toMatchObject({ actor: 'alice', action: 'schedule.create', target_id: id, request_id: 'outbox-create-stopped', outcome: 'success', status_code: 200 });
    expect((await stored(id))?.status).toBe('scheduled');
    expect(await notices(id, 'schedule.created')).toHaveLength(0);
    expect(await auditOf(id)).toHaveLength(0);

    const reconcile = t.get<ScheduleReconcileJob>(ScheduleReconcileJob);
    // Young: its create may still be storing them.
    expect((await reconcile.handle()).outcome).toMatch(/stalled_changes=0/);
    await db.collection('schedule_outbox_pending').updateOne({ _id: marker._id }, { $set: { at: new Date(Date.now() - 120_000) } });
    expect((await reconcile.handle()).outcome).toMatch(/stalled_changes=1/);
    expect(await notices(id, 'schedule.created')).toHaveLength(1);
    expect(await history(id, 'created')).toHaveLength(1);
    const [entry] = await auditOf(id);
    expect(entry).toMatchObject({ actor: 'alice', tenant_id: 'tenant-outbox', action: 'schedule.create', target_id: id, request_id: 'outbox-create-stopped', status_code: 200 });
    expect(await db.collection('schedule_outbox_pending').countDocuments({ _id: marker._id })).toBe(0);
    expect((await reconcile.handle()).outcome).toMatch(/stalled_changes=0/);
    expect(await auditOf(id)).toHaveLength(1);
  });

  it('a create that stores its events leaves no marker behind', async () => {
    const id = (await create().expect(200)).body.schedule_id as string;
    await waitFor(async () => (await db.collection('schedule_outbox_pending').countDocuments({ _id: `${id}:created` as never })) === 0, 5000);
    expect(await notices(id, 'schedule.created')).toHaveLength(1);
    expect(await auditOf(id)).toHaveLength(1);
  });

  it('a create that stopped after its answer: the retry under the same Idempotency-Key stores its events, once', async () => {
    const relay = t.get<ScheduleCreationRelay>(ScheduleCreationRelay);
    const stop = jest.spyOn(relay, 'store').mockRejectedValueOnce(new Error('process stopped'));
    let id: string;
    try {
      id = (await create('outbox-create-1').expect(200)).body.schedule_id as string;
    } finally {
      stop.mockRestore();
    }
    expect(await notices(id, 'schedule.created')).toHaveLength(0);
    const retry = await create('outbox-create-1').expect(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.schedule_id).toBe(id);
    expect(await notices(id, 'schedule.created')).toHaveLength(1);
    expect(await history(id, 'created')).toHaveLength(1);

    await create('outbox-create-1').expect(200);
    expect(await notices(id, 'schedule.created')).toHaveLength(1);
    expect(await history(id, 'created')).toHaveLength(1);
  });

  it('a replay, or a conflict, under an Idempotency-Key leaves no marker for the id it did not use', async () => {
    const before = new Set((await creationMarkers()).map((m) => String(m._id)));
    const id = (await create('outbox-replay-2').expect(200)).body.schedule_id as string;
    expect((await create('outbox-replay-2').expect(200)).body.schedule_id).toBe(id);
    const conflict = await http().post('/schedule/').set(alice).set('Idempotency-Key', 'outbox-replay-2').send({ phone: '+14155550100', scheduled_time: inAnHour });
    expect(conflict.status).toBeGreaterThanOrEqual(400);
    await waitFor(async () => (await creationMarkers()).every((m) => before.has(String(m._id))), 5000);
    expect(await notices(id, 'schedule.created')).toHaveLength(1);
  });

  it('a create whose process stopped after its answer, deleted by its client before the pass: still announced and audited as created', async () => {
    const relay = t.get<ScheduleCreationRelay>(ScheduleCreationRelay);
    const stop = jest.spyOn(relay, 'store').mockRejectedValueOnce(new Error('process stopped'));
    let id: string;
    try {
      id = (await create().expect(200)).body.schedule_id as string;
    } finally {
      stop.mockRestore();
    }
    await http().delete(`/schedule/${id}`).set(alice).expect(200);
    const marker = await waitFor(async () => (await creationMarkers()).find((m) => String(m._id) === `${id}:created`), 5000);
    await db.collection('schedule_outbox_pending').updateOne({ _id: marker._id }, { $set: { at: new Date(Date.now() - 120_000) } });
    expect((await t.get<ScheduleReconcileJob>(ScheduleReconcileJob).handle()).outcome).toMatch(/stalled_changes=1/);
    expect(await notices(id, 'schedule.created')).toHaveLength(1);
    expect(await auditOf(id)).toHaveLength(1);
    expect(await db.collection('schedule_outbox_pending').countDocuments({ _id: marker._id })).toBe(0);
  });
});
