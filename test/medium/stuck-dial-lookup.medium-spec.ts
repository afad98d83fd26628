import { randomBytes } from 'node:crypto';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { Principal } from '../../src/auth/principal';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { CallDeferredJob } from '../../src/schedule/dispatch/call-deferred.job';
import { ScheduleReconcileJob } from '../../src/schedule/dispatch/schedule-reconcile.job';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { CALL_DEFERRED_JOB } from '../../src/schedule/schedule.constants';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { FakeTwilioServer } from '../fakes/fake-twilio.server';
import { throughFakeTwilio, twilioTestEnv, TWILIO_TEST_FROM } from '../utils/fake-twilio-app';
import { createMediumApp, createSchedule, MediumApp, principalFor, scheduleDetails } from '../utils/medium-app';
import { testConfig } from '../utils/test-config';

// A dispatcher that decided to dial and then stopped (killed between its dial decision and the outcome).
// The reconciler fences the claim's later requests and asks Twilio (the fake, over HTTP) whether the call
// exists: found, the claim ends dialed; not found once no request can still be in flight, the occurrence
// is dialed again under a new claim. Before this, both ended `unknown` and were never dialed.
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
  async function dialDecidedThenStopped(phone: string) {
    const at = new Date(Math.ceil((Date.now() + 60_000) / 1000) * 1000);
    t.clock.set(new Date(at.getTime() - 1000));
    const id = (await createSchedule(t, alice, { phone, scheduled_time: at.toISOString(), misfire_policy: 'run_once' })).id;
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
    expect(await claims().decide(claim.claim.id, 'dial', 'crashed:1', at)).toBe('dial');
    return { id, at, claimId: claim.claim.id, logId };
  }

  it('a call Twilio created for it ends the claim dialed, with no second request', async () => {
    const phone = '+14155553101';
    const { id, at, claimId, logId } = await dialDecidedThenStopped(phone);
    // The request reached Twilio just after the decision, and then the process died.
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    fake.calls.push({ sid: callSid, to: phone, from: TWILIO_TEST_FROM, status: 'in-progress', duration: null, dateCreated: new Date(at.getTime() + 1000) });

    // 20 s after the decision its request could still be waiting for Twilio's answer, and the dispatcher
    // then for its own lookup (58 s in all with the defaults): a live one would record the call itself.
    t.clock.set(new Date(at.getTime() + 20_000));
    await reconcile();
    expect((await claims().findForSchedule(id, 5)).map((c) => [c.state, c.call_id])).toEqual([['claimed', null]]);

    t.clock.set(new Date(at.getTime() + 90_000));
    await reconcile();
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim).toMatchObject({ id: claimId, state: 'dialed', call_id: callSid, provider: 'twilio' });
    expect((await callLogs().findById(logId))?.call_id).toBe(callSid);
    const details = await scheduleDetails(t, alice, id);
    expect(details).toMatchObject({ status: 'running', call_id: callSid });
    expect(details.events.map((e: { type: string }) => e.type)).toContain('dispatched');
    expect(createRequestsTo(phone)).toBe(0);

    // Settled: a later pass changes nothing and dials nothing.
    t.clock.set(new Date(at.getTime() + 180_000));
    await reconcile();
    expect((await claims().findForSchedule(id, 5)).map((c) => c.state)).toEqual(['dialed']);
    expect(createRequestsTo(phone)).toBe(0);
  });

  it('no call at Twilio: once no request can still be under way, the claim is fenced and the occurrence dialed again once', async () => {
    const phone = '+14155553102';
    const { id, at, claimId } = await dialDecidedThenStopped(phone);

    // 20 s after the decision a request could still be under way: "not found" proves nothing yet.
    t.clock.set(new Date(at.getTime() + 20_000));
    await reconcile();
    expect((await claims().findForSchedule(id, 5)).map((c) => c.state)).toEqual(['claimed']);
    expect(await deferredJobs(id)).toHaveLength(0);

    t.clock.set(new Date(at.getTime() + 90_000));
    await reconcile();
    // Fenced: the dispatcher, were it alive, could send no retry now.
    expect(await claims().takeRequest(claimId, 2, 'crashed:1', t.clock.now())).toBe(false);
    const jobs = await deferredJobs(id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].data).toMatchObject({ schedule_id: id, occurrence_at: at.toISOString(), deferral: 1 });
    expect(await t.get<CallDeferredJob>(CallDeferredJob).handle(jobs[0].data)).toMatchObject({ outcome: 'dispatched' });
    // A second run of the job (another instance, a repeat) dials nothing: the new claim is taken.
    expect(['inactive', 'already_claimed']).toContain((await t.get<CallDeferredJob>(CallDeferredJob).handle(jobs[0].data)).outcome);
    await reconcile();
    expect(createRequestsTo(phone)).toBe(1);
    expect(await deferredJobs(id)).toHaveLength(1);

    const byDeferral = (await claims().findForSchedule(id, 5)).sort((a, b) => a.deferral - b.deferral);
    expect(byDeferral.map((c) => [c.deferral, c.state])).toEqual([
      [0, 'missed'],
      [1, 'dialed'],
    ]);
    expect(byDeferral[0].detail).toContain('twilio has no record of its call');
    const details = await scheduleDetails(t, alice, id);
    expect(details.status).toBe('running');
    expect(details.events.map((e: { type: string }) => e.type)).toContain('occurrence_redialed');
  });

  it('a dispatcher still granting itself retries keeps its claim: the reconciler waits until its last request has settled', async () => {
    const phone = '+14155553104';
    const { id, at, claimId } = await dialDecidedThenStopped(phone);
    // Alive, and retrying: its second request was granted 85 s after the first.
    expect(await claims().takeRequest(claimId, 2, 'crashed:1', new Date(at.getTime() + 85_000))).toBe(true);

    t.clock.set(new Date(at.getTime() + 90_000));
    await reconcile();
    expect((await claims().findForSchedule(id, 5)).map((c) => c.state)).toEqual(['claimed']);
    expect(await deferredJobs(id)).toHaveLength(0);
    // Not fenced yet: its next retry is still its own to send.
    expect(await claims().takeRequest(claimId, 3, 'crashed:1', new Date(at.getTime() + 95_000))).toBe(true);

    t.clock.set(new Date(at.getTime() + 95_000 + 60_000));
    await reconcile();
    expect((await claims().findForSchedule(id, 5)).map((c) => c.state)).toEqual(['missed']);
    expect(await deferredJobs(id)).toHaveLength(1);
    expect(await claims().takeRequest(claimId, 4, 'crashed:1', t.clock.now())).toBe(false);
  });

  it('a request that onRetry refuses is never sent', async () => {
    const phone = '+14155553103';
    fake.respondWith({ kind: 'status', status: 429, code: 20429, message: 'Too Many Requests' });
    const asked: number[] = [];
    const result = await t.get<CallDispatcher>(CallDispatcher).placeCall({
      callLogId: callLogs().newId(),
      scheduleId: null,
      tenantId: 'alice',
      phone,
      occurrenceAt: t.clock.now(),
      attemptNumber: 1,
      agentInstanceId: null,
      providerOptions: {},
      metadata: {},
      onDialing: async () => true,
      onRetry: async (_provider, request, _at) => {
        asked.push(request);
        return false;
      },
    });
    expect(result).toMatchObject({ kind: 'expired', detail: 'this run no longer owns the attempt' });
    expect(asked).toEqual([2]);
    expect(createRequestsTo(phone)).toBe(1);
    expect(fake.calls.filter((c) => c.to === phone)).toHaveLength(0);
  });
});
