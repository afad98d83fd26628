import { getConnectionToken, getModelToken } from '@nestjs/mongoose';
import { Connection, Model, Types } from 'mongoose';
import request from 'supertest';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { Clock } from '../../src/common/clock/clock';
import { DueScheduleSweeper } from '../../src/schedule/dispatch/due-schedule.sweeper';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { ScheduleReconcileJob } from '../../src/schedule/dispatch/schedule-reconcile.job';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { ScheduleOutcomeService } from '../../src/schedule/schedule-outcome.service';
import { CallScheduleDoc } from '../../src/schedule/schemas/call-schedule.schema';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { RecordingCallDispatcher } from '../utils/recording-dispatcher';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const alice = bearer(tokenFor('alice'));

describe('dispatch driven by an injectable clock (service level, real database)', () => {
  let t: TestApp;
  const clock = new TestClock();
  const recorder = new RecordingCallDispatcher();
  const http = () => request(t.app.getHttpServer());
  const handle = (id: string) => t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id);
  const getSchedule = async (id: string) => (await http().get(`/schedule/${id}`).set(alice).expect(200)).body.schedule;
  const createSchedule = async (at: Date, extra: Record<string, unknown> = {}): Promise<string> =>
    (await http().post('/schedule/').set(alice).send({ phone: '+14155552671', scheduled_time: at.toISOString(), ...extra }).expect(200)).body.schedule_id;
  const notices = (scheduleId: string, type: string) =>
    t.get<Connection>(getConnectionToken()).collection('notification_events').find({ type, 'data.schedule_id': scheduleId }).toArray();
  const nextWholeMinute = () => new Date(Math.ceil((Date.now() + 120_000) / 60_000) * 60_000);

  beforeAll(async () => {
    // The scheduler is off: the test plays Agenda's part by calling the job handler at chosen times.
    t = await createTestApp({
      env: { SCHEDULER_ENABLED: 'false', SCHEDULER_MISFIRE_GRACE_TIME: '300' },
      override: (b) => b.overrideProvider(Clock).useValue(clock).overrideProvider(CallDispatcher).useValue(recorder),
    });
  });
  afterAll(() => t.close());
  beforeEach(() => clock.set(new Date()));

  it('fires a recurring schedule on each occurrence and completes at max_occurrences', async () => {
    const start = nextWholeMinute();
    const id = await createSchedule(start, { repeat_config: { enabled: true, frequency: 'hourly', max_occurrences: 3 } });
    expect(await handle(id)).toEqual({ outcome: 'early', nextRunAt: start });

    const fired: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await getSchedule(id);
      clock.set(new Date(s.next_execution));
      const outcome = await handle(id);
      expect(outcome.outcome).toBe('dispatched');
      fired.push(s.next_execution);
    }
    expect(fired).toEqual([0, 1, 2].map((h) => new Date(start.getTime() + h * 3_600_000).toISOString()));
    const done = await getSchedule(id);
    expect(done).toMatchObject({ status: 'completed', next_execution: null, occurrence_count: 3 });
    expect(recorder.dials.filter((d) => d.scheduleId === id).map((d) => d.occurrenceAt)).toEqual(fired);
    expect(await handle(id)).toEqual({ outcome: 'inactive', nextRunAt: null });
    // Stored with the advance past the last occurrence (the schedule's outbox), once.
    const completed = await notices(id, 'schedule.completed');
    expect(completed).toHaveLength(1);
    expect(completed[0].data).toMatchObject({ status: 'completed', next_execution: null });
  });

  it('handles the same occurrence once however often the job runs', async () => {
    const at = new Date(Date.now() + 60_000);
    const id = await createSchedule(at);
    clock.set(at);
    const outcomes = await Promise.all([handle(id), handle(id), handle(id), handle(id)]);
    expect(outcomes.filter((o) => o.outcome === 'dispatched')).toHaveLength(1);
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(1);
    const logs = await t.get<CallLogRepository>(CallLogRepository).findForSchedule(id);
    expect(logs).toHaveLength(1);
    // No campaign's: its ending needs nothing from the campaign module.
    expect(logs[0].for_campaign).toBe(false);
  });

  it('misfire skip: records missed, dials nothing, and keeps the next occurrence on its own time', async () => {
    const start = nextWholeMinute();
    const id = await createSchedule(start, { repeat_config: { enabled: true, frequency: 'daily' }, misfire_policy: 'skip' });
    clock.set(new Date(start.getTime() + 2 * 3_600_000));
    expect((await handle(id)).outcome).toBe('missed');
    const s = await getSchedule(id);
    expect(s.next_execution).toBe(new Date(start.getTime() + 86_400_000).toISOString());
    expect(s.status).toBe('scheduled');
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(0);
    const missed = s.events.find((e: { type: string }) => e.type === 'missed');
    expect(missed.data).toMatchObject({ count: 1, occurrences: [start.toISOString()] });
    const notified = await notices(id, 'schedule.missed');
    expect(notified).toHaveLength(1);
    expect(notified[0].data).toMatchObject({ status: 'scheduled', details: { count: 1, occurrence_at: start.toISOString() } });
  });

  it("misfire skip cut off between storing the advance's events and writing it: the next write of the schedule finishes the advance and stores nothing twice", async () => {
    const start = nextWholeMinute();
    const id = await createSchedule(start, { repeat_config: { enabled: true, frequency: 'daily' }, misfire_policy: 'skip' });
    const db = t.get<Connection>(getConnectionToken());
    const rev = ((await db.collection('call_schedules').findOne({ _id: new Types.ObjectId(id) }))?.rev as number | undefined) ?? 0;
    clock.set(new Date(start.getTime() + 2 * 3_600_000));
    const stop = jest.spyOn(t.get<Model<CallScheduleDoc>>(getModelToken(CallScheduleDoc.name)), 'bulkWrite').mockRejectedValueOnce(new Error('process stopped'));
    try {
      await expect(handle(id)).rejects.toThrow('process stopped');
    } finally {
      stop.mockRestore();
    }
    expect(await notices(id, 'schedule.missed')).toHaveLength(1);
    expect((await getSchedule(id)).next_execution).toBe(start.toISOString());

    // The stopped run's gate, old enough (wall time) for a waiting writer to take its advance over: a pause.
    await db.collection('schedule_write_gates').updateOne({ _id: `${id}:${rev}` as never }, { $set: { at: new Date(Date.now() - 20_000) } });
    await http().post(`/schedule/${id}/pause`).set(alice).expect(200);
    const s = await getSchedule(id);
    expect(s).toMatchObject({ status: 'paused', next_execution: new Date(start.getTime() + 86_400_000).toISOString(), occurrence_count: 1 });
    expect(s.events.filter((e: { type: string }) => e.type === 'missed')).toHaveLength(1);
    expect(await notices(id, 'schedule.missed')).toHaveLength(1);
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(0);
  });

  it('misfire run_once: dials once for several missed occurrences, next stays on its own time', async () => {
    const start = nextWholeMinute();
    const id = await createSchedule(start, { repeat_config: { enabled: true, frequency: 'daily' }, misfire_policy: 'run_once' });
    clock.set(new Date(start.getTime() + 3 * 86_400_000 + 3_600_000));
    expect((await handle(id)).outcome).toBe('dispatched');
    const s = await getSchedule(id);
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(1);
    expect(s.next_execution).toBe(new Date(start.getTime() + 4 * 86_400_000).toISOString());
    expect(s.occurrence_count).toBe(4);
    expect(s.events.find((e: { type: string }) => e.type === 'misfire_run_once').data.count).toBe(4);
  });

  it('an occurrence inside the grace time is dialed, not treated as a misfire', async () => {
    const at = new Date(Date.now() + 60_000);
    const id = await createSchedule(at);
    clock.set(new Date(at.getTime() + 200_000));
    expect((await handle(id)).outcome).toBe('dispatched');
  });

  it('a run of the old version dials nothing once PUT has returned', async () => {
    const at = new Date(Date.now() + 60_000);
    const id = await createSchedule(at);
    await http().put(`/schedule/${id}`).set(alice).send({ scheduled_time: new Date(Date.now() + 7_200_000).toISOString() }).expect(200);
    clock.set(at);
    expect((await handle(id)).outcome).toBe('early');
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(0);
  });

  it('a remembered copy that another instance has made stale dials nothing and leaves the occurrence unclaimed', async () => {
    const at = new Date(Date.now() + 60_000);
    const later = new Date(Date.now() + 7_200_000);
    const id = await createSchedule(at);
    // This instance's sweep read the schedule due at `at` (the dispatch starts from that copy)...
    const schedules = t.get<ScheduleRepository>(ScheduleRepository);
    await schedules.findDueSchedules(new Date(at.getTime() + 1000), 10_000);
    expect(schedules.recalled(id)?.next_execution).toEqual(at);
    // ...and another instance moved it on.
    const other = await createTestApp({ config: { ...t.config, scheduler: { ...t.config.scheduler, enabled: false } } });
    try {
      await request(other.app.getHttpServer()).put(`/schedule/${id}`).set(alice).send({ scheduled_time: later.toISOString() }).expect(200);
    } finally {
      await other.close();
    }
    clock.set(at);
    expect(await handle(id)).toEqual({ outcome: 'superseded', nextRunAt: later });
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(0);
    expect(await t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).findForSchedule(id, 5)).toEqual([]);
    clock.set(later);
    expect((await handle(id)).outcome).toBe('dispatched');
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(1);
  });

  it.each([
    ['claimed', 'missed', 'occurrence_missed', 'missed'],
    ['dialing', 'unknown', 'occurrence_unknown', 'failed'],
  ] as const)('a crash with the claim %s leaves the occurrence %s and never dials it', async (stuckIn, claimState, eventType, scheduleStatus) => {
    const at = new Date(Date.now() + 60_000);
    const id = await createSchedule(at);
    // Another instance claimed the occurrence and died before advancing the schedule (and, if it was
    // dialing, before it learned whether the provider took the call).
    const claims = t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository);
    const logs = t.get<CallLogRepository>(CallLogRepository);
    const callLogId = logs.newId();
    const won = await claims.claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: stuckIn, instance: 'crashed:1', now: at, callLogId });
    expect(won.won).toBe(true);
    if (stuckIn === 'dialing') {
      await logs.createForAttempt(callLogId, { tenant_id: 'alice', created_by: 'alice', user_profile_id: null, agent_instance_id: null, schedule_id: id, occurrence_at: at, status: 'queued', call_type: 'outbound', phone: '+14155552671', timestamp: at, notes: null, metadata: {}, attempt_number: 1 }, at);
    }
    clock.set(at);
    expect((await handle(id)).outcome).toBe('already_claimed');
    clock.set(new Date(at.getTime() + (t.config.scheduler.unknownClaimAfterSeconds + 5) * 1000));
    await t.get<ScheduleReconcileJob>(ScheduleReconcileJob).handle();
    const s = await getSchedule(id);
    expect(s).toMatchObject({ status: scheduleStatus, last_call_status: claimState, next_execution: null });
    expect(s.events.map((e: { type: string }) => e.type)).toContain(eventType);
    // The reconciler's end of the schedule is announced once, as the dispatcher's would have been.
    const ended = `schedule.${scheduleStatus}`;
    expect(await notices(id, ended)).toHaveLength(1);
    if (stuckIn === 'dialing') {
      // The unknown dial settles later as failed: that outcome finds the end announced, and adds nothing.
      await t.get<ScheduleOutcomeService>(ScheduleOutcomeService).recordFinalCallStatus({ scheduleId: id, callLogId, callId: null, status: 'failed', duration: null });
      expect(await notices(id, ended)).toHaveLength(1);
    }
    const [claim] = await claims.findForSchedule(id, 5);
    expect(claim.state).toBe(claimState);
    expect((await handle(id)).outcome).toBe('inactive');
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(0);
  });

  it('resume continues from now without a burst of the paused occurrences', async () => {
    const start = nextWholeMinute();
    const id = await createSchedule(start, { repeat_config: { enabled: true, frequency: 'hourly' } });
    await http().post(`/schedule/${id}/pause`).set(alice).expect(200);
    clock.set(new Date(start.getTime() + 5 * 3_600_000 + 60_000));
    expect((await handle(id)).outcome).toBe('inactive');
    const resumed = (await http().post(`/schedule/${id}/resume`).set(alice).expect(200)).body.schedule;
    expect(resumed.next_execution).toBe(new Date(start.getTime() + 6 * 3_600_000).toISOString());
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(0);
  });
});

describe('real Agenda across restarts and instances', () => {
  it('misfire after downtime: skip records missed, run_once dials once', async () => {
    const config = testConfig({ SCHEDULER_MISFIRE_GRACE_TIME: '1' });
    const first = await createTestApp({ config });
    // Far enough ahead that the first instance is gone long before it comes due.
    const dueAt = new Date(Date.now() + 60_000);
    const due = dueAt.toISOString();
    const mk = (policy: string) =>
      request(first.app.getHttpServer()).post('/schedule/').set(alice).send({ phone: '+14155552671', scheduled_time: due, misfire_policy: policy }).expect(200);
    const skipId = (await mk('skip')).body.schedule_id;
    const onceId = (await mk('run_once')).body.schedule_id;
    await first.close();

    // The downtime: the next instance starts when the occurrence is past due by more than the grace time.
    const clock = new TestClock();
    clock.set(new Date(dueAt.getTime() + 5_000));
    const second = await createTestApp({ config, override: (b) => b.overrideProvider(Clock).useValue(clock) });
    try {
      const get = async (id: string) => (await request(second.app.getHttpServer()).get(`/schedule/${id}`).set(alice).expect(200)).body.schedule;
      // The status moves first (the guarded step), then its event is written: wait for both.
      const skipped = await waitFor(async () => {
        const s = await get(skipId);
        return s.status === 'missed' && s.events.some((e: { type: string }) => e.type === 'missed') ? s : null;
      }, 10_000);
      expect(skipped.events.map((e: { type: string }) => e.type)).toContain('missed');
      // The call's final callback can complete the schedule before the dispatcher writes its dispatched
      // event: wait for both here too.
      await waitFor(async () => {
        const s = await get(onceId);
        return s.status === 'completed' && s.events.some((e: { type: string }) => e.type === 'dispatched');
      }, 10_000);
      // Each occurrence is spent: a dispatch of either schedule now dials nothing.
      const dispatch = second.get<OccurrenceDispatchService>(OccurrenceDispatchService);
      expect((await dispatch.dispatchDue(skipId)).outcome).toBe('inactive');
      expect((await dispatch.dispatchDue(onceId)).outcome).toBe('inactive');
      const once = await get(onceId);
      expect(once.events.filter((e: { type: string }) => e.type === 'dispatched')).toHaveLength(1);
      const logs = second.get<CallLogRepository>(CallLogRepository);
      expect(await logs.findForSchedule(skipId)).toHaveLength(0);
      expect(await logs.findForSchedule(onceId)).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  // On the embedded FerretDB (SQLite) a drain slows as the collections grow; 120 occurrences keep the
  // run short while still racing two instances on every one.
  it('two instances on one database dispatch each of 120 schedules exactly once', async () => {
    const count = 120;
    // Agenda polls at production's interval: each poll is one findAndModify per job name, and on FerretDB
    // those compete with every dial's writes (at 500 ms this drain ran at about a third of the speed).
    const config = testConfig({ SCHEDULER_POLL_INTERVAL_MS: '100', SCHEDULER_JOB_POLL_INTERVAL_MS: '5000' });
    const dials: RecordingCallDispatcher['dials'] = [];
    const make = () => createTestApp({ config, override: (b) => b.overrideProvider(CallDispatcher).useValue(new RecordingCallDispatcher(dials)) });
    const [a, b] = [await make(), await make()];
    try {
      // Far enough ahead that creating the schedules finishes first even on a loaded machine.
      const due = new Date(Date.now() + 40_000);
      const ids: string[] = [];
      for (let batch = 0; batch < count / 20; batch++) {
        const created = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            request((i % 2 ? a : b).app.getHttpServer()).post('/schedule/').set(alice).send({ phone: '+14155552671', scheduled_time: due.toISOString() }).expect(200),
          ),
        );
        ids.push(...created.map((r) => r.body.schedule_id as string));
      }
      expect(Date.now()).toBeLessThan(due.getTime());
      const t0 = Date.now();
      const progress = setInterval(() => console.log(`${Date.now() - t0} ms: ${dials.length} dials`), 5000);
      try {
        await waitFor(async () => Date.now() >= due.getTime() && dials.length >= count, 300_000);
      } finally {
        clearInterval(progress);
      }
      // Every dispatch either instance started has ended (a dial it made is counted), and a dispatch of any
      // of the schedules now, on either instance, dials nothing: each occurrence is spent.
      const sweepers = [a, b].map((x) => x.get<DueScheduleSweeper>(DueScheduleSweeper));
      await waitFor(async () => sweepers.every((s) => s.backlog() === 0), 60_000);
      for (let i = 0; i < ids.length; i += 20) {
        const again = await Promise.all(ids.slice(i, i + 20).flatMap((id) => [a, b].map((x) => x.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id))));
        expect(again.filter((o) => o.outcome === 'dispatched')).toEqual([]);
      }
      const perSchedule = new Map<string, number>();
      for (const d of dials) perSchedule.set(d.scheduleId!, (perSchedule.get(d.scheduleId!) ?? 0) + 1);
      expect(dials).toHaveLength(count);
      expect([...perSchedule.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(perSchedule.keys())).toEqual(new Set(ids));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 420_000);
});
