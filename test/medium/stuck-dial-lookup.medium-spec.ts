import { randomBytes } from 'node:crypto';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { Principal } from '../../src/auth/principal';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { ScheduleReconcileJob } from '../../src/schedule/dispatch/schedule-reconcile.job';
import { CallReconcileJob } from '../../src/status-update/call-reconcile.job';
import { SEND_TICKET_VALID_MS } from '../../src/calls/call-dispatcher';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { CALL_DEFERRED_JOB } from '../../src/schedule/schedule.constants';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { FakeTwilioServer } from '../fakes/fake-twilio.server';
import { throughFakeTwilio, twilioTestEnv, TWILIO_TEST_FROM } from '../utils/fake-twilio-app';
import { createMediumApp, createSchedule, MediumApp, principalFor, scheduleDetails } from '../utils/medium-app';
import { testConfig } from '../utils/test-config';

// A dispatcher that decided to dial and then stopped (killed between its dial decision and the outcome).
// The reconciler asks Twilio (the fake, over HTTP) whether the call exists: found, the claim ends dialed
// and the call is recorded once; not found, it fences the attempt's later requests, and once every request
// could have landed, the occurrence is provably undialed: dialed again within its grace, else missed.
describe('a stuck claim decided `dial` is looked up at the provider (service level, real database, fake Twilio)', () => {
  const sid = `AC${'0a1b2c3d4e5f6789'.repeat(2)}`;
  const token = 'lookup-twilio-token-0123456789';
  const fake = new FakeTwilioServer(sid, token);
  let t: MediumApp;
  let alice: Principal;
  const claims = () => t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository);
  const schedules = () => t.get<ScheduleRepository>(ScheduleRepository);
  const callLogs = () => t.get<CallLogRepository>(CallLogRepository);
  const reconcile = () => t.get<ScheduleReconcileJob>(ScheduleReconcileJob).handle();
  const createRequestsTo = (phone: string) => fake.createRequestsTo(phone).length;
  // call.dispatched as the stream's history and the webhooks hold it.
  const dispatchedNotifications = (logId: string) =>
    t.get<Connection>(getConnectionToken()).collection('notification_events').find({ type: 'call.dispatched', 'data.call_log_id': logId }).toArray();
  const deferredJobs = (id: string) => t.get<Connection>(getConnectionToken()).collection('agenda_jobs').find({ name: CALL_DEFERRED_JOB, 'data.schedule_id': id }).toArray();

  beforeAll(async () => {
    await fake.start();
    const config = testConfig({ ...twilioTestEnv({ sid, token }), SCHEDULER_ENABLED: 'false', SCHEDULER_UNKNOWN_CLAIM_AFTER_SECONDS: '15', PROVIDER_RETRY_BASE_MS: '50' });
    t = await createMediumApp({ config, override: throughFakeTwilio(config, fake.url) });
    alice = principalFor(t, 'alice');
  });
  afterAll(async () => {
    await t?.close();
    await fake.stop();
  });

  // What the stopped dispatcher wrote: the claim naming its log, the advance to pending, the log, and the
  // dial decision. Whether its request reached Twilio is up to the test.
  async function dialDecidedThenStopped(phone: string, misfire_policy = 'run_once') {
    const at = new Date(Math.ceil((Date.now() + 60_000) / 1000) * 1000);
    t.clock.set(new Date(at.getTime() - 1000));
    const id = (await createSchedule(t, alice, { phone, scheduled_time: at.toISOString(), misfire_policy })).id;
    const schedule = (await schedules().findById(id))!;
    t.clock.set(at);
    const logId = callLogs().newId();
    const claim = await claims().claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'crashed:1', now: at, callLogId: logId });
    if (!claim.won) throw new Error('the claim was taken');
    expect(await schedules().advanceOccurrence(id, schedule.version, at, { next_execution: null, status: 'pending', last_occurrence_at: at, last_updated: at }, 1)).toBe(true);
    await callLogs().createForAttempt(
      logId,
      { tenant_id: 'alice', created_by: 'alice', user_profile_id: null, agent_instance_id: null, schedule_id: id, occurrence_at: at, status: 'queued', call_type: schedule.call_type, phone, timestamp: at, notes: null, metadata: {}, attempt_number: 1 },
      at,
    );
    expect((await claims().decide(claim.claim.id, 'dial', 'crashed:1', at)).decision).toBe('dial');
    return { id, at, claimId: claim.claim.id, logId };
  }

  it('a call Twilio created for it ends the claim dialed, recorded once, with no second request', async () => {
    const phone = '+14155553101';
    const { id, at, claimId, logId } = await dialDecidedThenStopped(phone);
    // The request reached Twilio just after the decision, and then the process died.
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    fake.calls.push({ sid: callSid, to: phone, from: TWILIO_TEST_FROM, status: 'in-progress', duration: null, dateCreated: new Date(at.getTime() + 1000) });

    t.clock.set(new Date(at.getTime() + 20_000));
    await reconcile();
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim).toMatchObject({ id: claimId, state: 'dialed', call_id: callSid, provider: 'twilio' });
    expect((await callLogs().findById(logId))?.call_id).toBe(callSid);
    const details = await scheduleDetails(t, alice, id);
    expect(details).toMatchObject({ status: 'running', call_id: callSid });
    expect(details.events.filter((e: { type: string }) => e.type === 'dispatched')).toHaveLength(1);
    expect(await dispatchedNotifications(logId)).toEqual([expect.objectContaining({ data: expect.objectContaining({ call_id: callSid, details: expect.objectContaining({ provider: 'twilio' }) }) })]);
    expect(createRequestsTo(phone)).toBe(0);
    // The reconciler took the outcome: the dispatcher, had it been only stalled, records nothing.
    expect(await claims().takeOutcome(claimId, 'crashed:1', t.clock.now())).toBe(false);

    // Settled: a later pass changes nothing and dials nothing.
    t.clock.set(new Date(at.getTime() + 120_000));
    await reconcile();
    expect((await claims().findForSchedule(id, 5)).map((c) => c.state)).toEqual(['dialed']);
    expect((await scheduleDetails(t, alice, id)).events.filter((e: { type: string }) => e.type === 'dispatched')).toHaveLength(1);
    expect(await dispatchedNotifications(logId)).toHaveLength(1);
    expect(createRequestsTo(phone)).toBe(0);
  });

  // The dispatcher's own path: call.dispatched is stored before the claim records the call, because once the
  // claim has moved nothing would redo it. Here the process stops in between.
  it('a dispatcher that stops after Twilio created its call, before its claim records it, has stored call.dispatched; the reconciler finds the call and stores it no second time', async () => {
    const phone = '+14155553105';
    // Near the real time: the fake Twilio dates the call it creates by it, and the lookup asks from a
    // minute before the dial decision.
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    t.clock.set(new Date(at.getTime() - 1000));
    const id = (await createSchedule(t, alice, { phone, scheduled_time: at.toISOString(), misfire_policy: 'run_once' })).id;
    t.clock.set(at);
    const stop = jest.spyOn(claims(), 'move').mockRejectedValueOnce(new Error('process stopped'));
    await expect(t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id)).rejects.toThrow('process stopped');
    stop.mockRestore();
    expect(createRequestsTo(phone)).toBe(1);
    const [stuck] = await claims().findForSchedule(id, 5);
    expect(stuck.state).toBe('claimed');
    const logId = stuck.call_log_id!;
    const [stored, ...more] = await dispatchedNotifications(logId);
    expect(more).toHaveLength(0);
    expect(stored.data).toMatchObject({ call_log_id: logId, schedule_id: id, status: 'queued' });

    t.clock.set(new Date(at.getTime() + 20_000));
    await reconcile();
    expect((await claims().findForSchedule(id, 5))[0]).toMatchObject({ id: stuck.id, state: 'dialed', call_id: stored.data.call_id });
    expect((await dispatchedNotifications(logId)).map((e) => e._id.toHexString())).toEqual([stored._id.toHexString()]);
    expect(createRequestsTo(phone)).toBe(1);
  });

  // 0016's double fault: the reconciler takes the outcome, and the dispatcher's own move lands with its reply
  // lost. Its retry reads the claim exactly as its move left it, which counts as moved, so it records the
  // call; the reconciler's move is refused, so it records nothing. Exactly one side records.
  it("a dispatcher's move whose reply was lost counts as moved on its retry; the reconciler holding the outcome is refused", async () => {
    const phone = '+14155553103';
    const { id, at, claimId } = await dialDecidedThenStopped(phone);
    const placed = { call_id: `CA${randomBytes(16).toString('hex')}`, provider: 'twilio' };
    const done = new Date(at.getTime() + 2000);
    expect(await claims().move(claimId, 'placed', placed, done)).toBe(true);
    const later = new Date(at.getTime() + 20_000);
    expect(await claims().takeOutcome(claimId, 'reconciler', later)).toBe(true);
    expect(await claims().move(claimId, 'found_at_provider', { ...placed, detail: 'found at twilio after its dispatcher stopped' }, later)).toBe(false);

    expect(await claims().move(claimId, 'placed', placed, done)).toBe(true);
    // Any other move is still refused: the same one at another time, another outcome, another call.
    expect(await claims().move(claimId, 'placed', placed, new Date(done.getTime() + 1))).toBe(false);
    expect(await claims().move(claimId, 'outcome_unknown', { provider: 'twilio', detail: 'no answer' }, done)).toBe(false);
    expect(await claims().move(claimId, 'placed', { ...placed, call_id: `CA${randomBytes(16).toString('hex')}` }, done)).toBe(false);
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim).toMatchObject({ id: claimId, state: 'dialed', call_id: placed.call_id, updated_at: done });
  });

  // The same double fault when the dispatcher's move went out with others placed at the same moment: the
  // group writes its earliest time, and each move's own is in the gate it won, where its retry finds it.
  it("a dispatcher's move written with others counts as moved on its own retry, at its own time only", async () => {
    const at = new Date(Math.ceil((Date.now() + 60_000) / 1000) * 1000);
    const made = await Promise.all(
      [0, 1, 2].map((i) => claims().claimOccurrence({ scheduleId: `grouped-${at.getTime()}-${i}`, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'dispatcher:1', now: at, callLogId: callLogs().newId() })),
    );
    const ids = made.map((m) => (m.won ? m.claim.id : ''));
    const done = ids.map((_, i) => new Date(at.getTime() + 1000 + i));
    expect(await Promise.all(ids.map((id, i) => claims().move(id, 'placed', { provider: 'twilio' }, done[i])))).toEqual([true, true, true]);
    // One statement wrote them: each reads the group's earliest time.
    for (const id of ids) expect(await claims().findById(id)).toMatchObject({ state: 'dialed', transition: 'placed', provider: 'twilio', updated_at: done[0] });
    expect(await claims().takeOutcome(ids[2], 'reconciler', new Date(at.getTime() + 20_000))).toBe(true);
    expect(await claims().move(ids[2], 'placed', { provider: 'twilio' }, done[2])).toBe(true);
    expect(await claims().move(ids[2], 'placed', { provider: 'twilio' }, new Date(done[2].getTime() + 5))).toBe(false);
    // Nor the group's time, which was another member's.
    expect(await claims().move(ids[2], 'placed', { provider: 'twilio' }, done[0])).toBe(false);
    expect(await claims().move(ids[1], 'placed', { provider: 'twilio' }, done[2])).toBe(false);
    expect(await claims().findById(ids[2])).toMatchObject({ state: 'dialed', updated_at: done[0] });
  });

  // 0016's second double fault: the reconciler stops right after it settles the claim (which takes it out
  // of findStuck), before recording the rest. The log already names the call, so call.reconcile finishes it.
  it('a reconciler that stops after settling the claim leaves a log naming the call, which call.reconcile finishes', async () => {
    const phone = '+14155553104';
    const { id, at, claimId, logId } = await dialDecidedThenStopped(phone);
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    fake.calls.push({ sid: callSid, to: phone, from: TWILIO_TEST_FROM, status: 'in-progress', duration: null, dateCreated: new Date(at.getTime() + 1000) });

    // The process stops where recordPlaced would start (fault injection at the service boundary).
    const stop = jest.spyOn(t.get<OccurrenceDispatchService>(OccurrenceDispatchService), 'recordPlaced').mockRejectedValueOnce(new Error('process stopped'));
    t.clock.set(new Date(at.getTime() + 20_000));
    await expect(reconcile()).rejects.toThrow('process stopped');
    stop.mockRestore();
    expect((await claims().findForSchedule(id, 5))[0]).toMatchObject({ id: claimId, state: 'dialed', call_id: callSid });
    expect(await callLogs().findById(logId)).toMatchObject({ call_id: callSid, provider: 'twilio', status: 'queued' });
    // Its call.dispatched was stored before the move: nothing after the move would redo it.
    expect(await dispatchedNotifications(logId)).toHaveLength(1);
    // Settled, the claim is not the schedule reconciler's any more: a later pass records nothing.
    await reconcile();
    expect((await scheduleDetails(t, alice, id)).events.filter((e: { type: string }) => e.type === 'dispatched')).toHaveLength(0);
    expect(await dispatchedNotifications(logId)).toHaveLength(1);

    // No callback ever comes: call.reconcile fetches the call by its id and ends the log and the schedule.
    fake.finish(callSid, 'completed', 42);
    t.clock.set(new Date(at.getTime() + (t.config.callReconcileAfterMinutes + 1) * 60_000));
    await t.get<CallReconcileJob>(CallReconcileJob).handle();
    expect(await callLogs().findById(logId)).toMatchObject({ status: 'completed', duration: 42 });
    expect((await scheduleDetails(t, alice, id)).status).toBe('completed');
    expect(createRequestsTo(phone)).toBe(0);
  });

  // Every request of the attempt left within SEND_TICKET_VALID_MS of its ticket and ends within a request
  // timeout (the longer of the providers'); the lookup then waits as long as the dispatcher's own does, and
  // a second for clock skew between instances.
  const settleMs = () => SEND_TICKET_VALID_MS + Math.max(t.config.twilio.requestTimeoutMs, t.config.agentBackend.requestTimeoutMs) + t.config.dialing.unknownLookupDelayMs + 1000;
  // The first pass at which a fence stamped at `at` has settled. The test clock runs on from where it is set:
  // a second of slack over the settling time.
  const settledAfter = (at: Date) => new Date(at.getTime() + settleMs() + 1000);
  const passAt = async (at: Date) => {
    t.clock.set(at);
    await reconcile();
  };

  it('no call at Twilio: the attempt is fenced, and once every request could have landed it is dialed again under a new claim (run_once)', async () => {
    const phone = '+14155553102';
    const { id, at, claimId, logId } = await dialDecidedThenStopped(phone);

    // Found stuck: no call yet, but a request may still be on its way. The fence takes the next ticket.
    const firstPass = new Date(at.getTime() + 20_000);
    await passAt(firstPass);
    expect((await claims().findForSchedule(id, 5)).map((c) => c.state)).toEqual(['claimed']);
    expect(await claims().takeSendTicket(claimId, 2, 'crashed:1', firstPass)).toBe(false);
    expect(await deferredJobs(id)).toHaveLength(0);

    // Just short of the settling time: still left for a later pass.
    await passAt(new Date(firstPass.getTime() + settleMs() - 1000));
    expect((await claims().findForSchedule(id, 5)).map((c) => c.state)).toEqual(['claimed']);

    await passAt(settledAfter(firstPass));
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim).toMatchObject({ id: claimId, state: 'missed', transition: 'not_at_provider' });
    expect(claim.detail).toContain('twilio has no record of its call');
    expect(claim.detail).toContain('dialed again under deferral 1');
    expect(await callLogs().findById(logId)).toMatchObject({ status: 'canceled' });
    // The reconciler took the outcome first: a dispatcher that was only slow, whose own move is now refused,
    // records nothing.
    expect(await claims().takeOutcome(claimId, 'crashed:1', t.clock.now())).toBe(false);
    const [job] = await deferredJobs(id);
    expect(job.data).toMatchObject({ schedule_id: id, occurrence_at: at.toISOString(), deferral: 1 });
    expect((await scheduleDetails(t, alice, id)).events.map((e: { type: string }) => e.type)).toContain('occurrence_redialed');
    expect(createRequestsTo(phone)).toBe(0);

    // The re-dial is one request, under its own claim.
    const dispatch = t.get<OccurrenceDispatchService>(OccurrenceDispatchService);
    expect(await dispatch.dispatchDeferred(id, at, 1, 1, new Date(job.data.run_at))).toMatchObject({ outcome: 'dispatched' });
    expect(createRequestsTo(phone)).toBe(1);
    expect((await claims().findForSchedule(id, 5)).map((c) => c.state).sort()).toEqual(['dialed', 'missed']);
    expect((await scheduleDetails(t, alice, id)).status).toBe('running');
  });

  it('no call at Twilio, past the grace of misfire policy skip: the occurrence ends missed and nothing is dialed', async () => {
    const phone = '+14155553106';
    const { id, at, claimId } = await dialDecidedThenStopped(phone, 'skip');
    const firstPass = new Date(at.getTime() + (t.config.scheduler.misfireGraceSeconds + 20) * 1000);
    await passAt(firstPass);
    await passAt(settledAfter(firstPass));
    expect((await claims().findForSchedule(id, 5))[0]).toMatchObject({ id: claimId, state: 'missed', transition: 'not_at_provider' });
    expect(await deferredJobs(id)).toHaveLength(0);
    const details = await scheduleDetails(t, alice, id);
    expect(details).toMatchObject({ status: 'missed', last_call_status: 'missed' });
    expect(details.events.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['occurrence_missed', 'missed']));
    expect(createRequestsTo(phone)).toBe(0);
  });

  it('a ticket the dispatcher asked for later than the fence was stamped counts from when it was asked', async () => {
    const phone = '+14155553108';
    const { id, at, claimId } = await dialDecidedThenStopped(phone);
    const firstPass = new Date(at.getTime() + 20_000);
    // Its retry's ticket landed with a later time than the pass that fences reads before its insert.
    const asked = new Date(firstPass.getTime() + 10_000);
    expect(await claims().takeSendTicket(claimId, 2, 'crashed:1', asked)).toBe(true);
    await passAt(firstPass);
    await passAt(settledAfter(firstPass));
    expect((await claims().findForSchedule(id, 5))[0]).toMatchObject({ id: claimId, state: 'claimed' });
    await passAt(settledAfter(asked));
    expect((await claims().findForSchedule(id, 5))[0]).toMatchObject({ id: claimId, state: 'missed', transition: 'not_at_provider' });
    expect(await deferredJobs(id)).toHaveLength(1);
  });

  it('a schedule written since the claim (an edit while the run waited): the lookup may have asked for the wrong call, so "not found" proves nothing', async () => {
    const phone = '+14155553109';
    const { id, at, claimId } = await dialDecidedThenStopped(phone);
    expect(await schedules().recordCallProgress(id, null, { last_updated: new Date(at.getTime() + 5000) })).toBe(true);
    t.clock.set(new Date(at.getTime() + 20_000));
    await reconcile();
    expect((await claims().findForSchedule(id, 5))[0]).toMatchObject({ id: claimId, state: 'unknown', transition: 'stuck_after_dial' });
    expect(await deferredJobs(id)).toHaveLength(0);
  });

  it('a log that already names a call (an earlier pass found it, then stopped before its move) is never proven unsent by a later lookup', async () => {
    const phone = '+14155553111';
    const { id, at, claimId, logId } = await dialDecidedThenStopped(phone);
    // The call the earlier pass found; Twilio's list no longer shows it to this lookup.
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    await callLogs().recordPlacedCall(logId, 'twilio', callSid, new Date(at.getTime() + 1000));
    const firstPass = new Date(at.getTime() + 20_000);
    await passAt(firstPass);
    await passAt(settledAfter(firstPass));
    expect((await claims().findForSchedule(id, 5))[0]).toMatchObject({ id: claimId, state: 'unknown', transition: 'stuck_after_dial' });
    expect(await deferredJobs(id)).toHaveLength(0);
    expect(await callLogs().findById(logId)).toMatchObject({ call_id: callSid });
  });

  it("a pass that stopped after writing the re-dial is finished without a lookup, which could take the re-dial's own call for the old attempt's", async () => {
    const phone = '+14155553110';
    const { id, at, claimId, logId } = await dialDecidedThenStopped(phone);
    const firstPass = new Date(at.getTime() + 20_000);
    await passAt(firstPass);
    t.clock.set(settledAfter(firstPass));
    const stop = jest.spyOn(claims(), 'move').mockRejectedValueOnce(new Error('process stopped'));
    await expect(reconcile()).rejects.toThrow('process stopped');
    stop.mockRestore();
    expect(await deferredJobs(id)).toHaveLength(1);
    // The re-dial placed its call before the next pass, and its log does not name it yet.
    fake.calls.push({ sid: `CA${randomBytes(16).toString('hex')}`, to: phone, from: TWILIO_TEST_FROM, status: 'in-progress', duration: null, dateCreated: new Date(at.getTime() + 1000) });
    await reconcile();
    expect((await claims().findForSchedule(id, 5))[0]).toMatchObject({ id: claimId, state: 'missed', transition: 'not_at_provider' });
    expect(await callLogs().findById(logId)).toMatchObject({ status: 'canceled', call_id: null });
  });

  // A dispatcher that is only stalled, not dead: its retry asks for the next ticket, which the reconciler's
  // fence holds, so the retry never leaves.
  it("a retry meets the reconciler's fence: nothing more is sent, and the claim is left to the reconciler", async () => {
    const phone = '+14155553107';
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    t.clock.set(new Date(at.getTime() - 1000));
    const id = (await createSchedule(t, alice, { phone, scheduled_time: at.toISOString(), misfire_policy: 'run_once' })).id;
    t.clock.set(at);
    fake.respondWith({ kind: 'status', status: 429, code: 20429, message: 'Too Many Requests' });
    // The reconciler fences the claim while the dispatcher waits out its backoff (injected at the repository
    // boundary, right before the dispatcher's own ticket insert).
    const repo = claims();
    const takeSendTicket = repo.takeSendTicket.bind(repo);
    const fenced: Date[] = [];
    const spy = jest.spyOn(repo, 'takeSendTicket').mockImplementation(async (claimId, n, by, now) => {
      fenced.push(await repo.fenceSends(claimId, 'reconciler', now));
      return takeSendTicket(claimId, n, by, now);
    });
    try {
      expect(await t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id)).toMatchObject({ outcome: 'dispatched' });
    } finally {
      spy.mockRestore();
    }
    expect(fenced).toHaveLength(1);
    expect(createRequestsTo(phone)).toBe(1);
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim.state).toBe('claimed');
    expect(await callLogs().findById(claim.call_log_id!)).toMatchObject({ status: 'canceled', error_code: 'given_up' });
  });
});
