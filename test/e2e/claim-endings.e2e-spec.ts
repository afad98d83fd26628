import { getConnectionToken } from '@nestjs/mongoose';
import { Connection, Types } from 'mongoose';
import request from 'supertest';
import { CallDispatcher, PlaceCallRequest, PlaceCallResult } from '../../src/calls/call-dispatcher';
import { Clock } from '../../src/common/clock/clock';
import { DomainEventPublisher } from '../../src/notification/domain-event.publisher';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { ScheduleReconcileJob } from '../../src/schedule/dispatch/schedule-reconcile.job';
import { ScheduleEventRepository } from '../../src/schedule/schedule-event.repository';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { createTestApp, TestApp } from '../utils/test-app';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';

const alice = bearer(tokenFor('alice'));

// The provider's answer to every request, chosen by the test.
class ScriptedCallDispatcher extends CallDispatcher {
  answer: PlaceCallResult = { kind: 'rejected', provider: 'scripted', code: '21211', message: 'Invalid To number' };
  requests = 0;

  async placeCall(_request: PlaceCallRequest): Promise<PlaceCallResult> {
    this.requests++;
    return this.answer;
  }
}

// A run that ends its claim without a call (refused, unknown, skipped) stores that ending before the claim
// moves. A run that stops after the move leaves it, and the schedule.reconcile pass writes the rest (log,
// history entry, schedule, call event) as the run would have, once; before, the log stayed queued and a
// one-time schedule running, and the call event was lost.
describe('a run that stops after ending its claim is finished by the reconcile pass (e2e)', () => {
  let t: TestApp;
  let db: Connection;
  const clock = new TestClock();
  const provider = new ScriptedCallDispatcher();
  const http = () => request(t.app.getHttpServer());
  const create = async (phone: string, at: Date, extra: Record<string, unknown> = {}) =>
    (await http().post('/schedule/').set(alice).send({ phone, scheduled_time: at.toISOString(), ...extra }).expect(200)).body.schedule_id as string;
  const stored = (id: string) => db.collection('call_schedules').findOne({ _id: new Types.ObjectId(id) });
  const notices = (scheduleId: string, type: string) => db.collection('notification_events').find({ type, 'data.schedule_id': scheduleId }).toArray();
  const history = (scheduleId: string, type: string) => db.collection('schedule_events').find({ schedule_id: scheduleId, type }).toArray();
  const logOf = async (scheduleId: string) => (await t.get<CallLogRepository>(CallLogRepository).findForSchedule(scheduleId))[0];
  const claimOf = (scheduleId: string) => db.collection('occurrence_claims').findOne({ schedule_id: scheduleId });
  const endings = (claimId: string) => db.collection('claim_endings').countDocuments({ _id: claimId as never });
  const reconcile = async () => (await t.get<ScheduleReconcileJob>(ScheduleReconcileJob).handle()).outcome;
  const stopAt = (spy: jest.SpyInstance) => spy.mockRejectedValueOnce(new Error('process stopped'));
  // Dispatches the schedule due at `at`; the run stops at the fault set up before.
  const dispatchCutOff = async (id: string, at: Date) => {
    clock.set(at);
    await expect(t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id)).rejects.toThrow('process stopped');
  };
  const dispatchUncut = async (id: string, at: Date) => {
    clock.set(at);
    expect((await t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id)).outcome).toBe('dispatched');
  };
  const pastTheRunsRetries = (at: Date) => clock.set(new Date(at.getTime() + (t.config.scheduler.unknownClaimAfterSeconds + 5) * 1000));
  const soon = () => new Date(Date.now() + 60_000);

  beforeAll(async () => {
    t = await createTestApp({
      env: { SCHEDULER_ENABLED: 'false' },
      override: (b) => b.overrideProvider(Clock).useValue(clock).overrideProvider(CallDispatcher).useValue(provider),
    });
    db = t.get<Connection>(getConnectionToken());
  });
  afterAll(() => t.close());
  beforeEach(() => clock.set(new Date()));
  afterEach(() => jest.restoreAllMocks());

  it('a refusal records the call failed and the schedule failed, once, and leaves no ending behind', async () => {
    provider.answer = { kind: 'rejected', provider: 'scripted', code: '21211', message: 'Invalid To number' };
    const at = soon();
    const id = await create('+14155550101', at);
    await dispatchUncut(id, at);
    expect(await stored(id)).toMatchObject({ status: 'failed', last_call_status: 'failed', last_error: '21211: Invalid To number' });
    expect((await logOf(id)).status).toBe('failed');
    expect(await notices(id, 'call.failed')).toHaveLength(1);
    expect(await endings(String((await claimOf(id))?._id))).toBe(0);
  });

  it('a refusal cut off after the claim moved: the pass fails the log and the schedule and stores call.failed, once', async () => {
    provider.answer = { kind: 'rejected', provider: 'scripted', code: '21211', message: 'Invalid To number' };
    const at = soon();
    const id = await create('+14155550102', at);
    stopAt(jest.spyOn(t.get<CallLogRepository>(CallLogRepository), 'markAttemptEnded'));
    await dispatchCutOff(id, at);
    const claim = await claimOf(id);
    expect(claim).toMatchObject({ state: 'failed', transition: 'refused' });
    expect((await logOf(id)).status).toBe('queued');
    expect((await stored(id))?.status).toBe('running');
    expect(await notices(id, 'call.failed')).toHaveLength(0);
    expect(await endings(String(claim?._id))).toBe(1);

    // Its run may still be retrying its writes: the pass leaves a young ending alone.
    expect(await reconcile()).toMatch(/stopped_endings=0/);
    expect((await stored(id))?.status).toBe('running');

    pastTheRunsRetries(at);
    expect(await reconcile()).toMatch(/stopped_endings=1/);
    expect((await logOf(id)).status).toBe('failed');
    expect(await stored(id)).toMatchObject({ status: 'failed', last_call_status: 'failed', last_error: '21211: Invalid To number' });
    expect(await notices(id, 'call.failed')).toHaveLength(1);
    expect(await notices(id, 'schedule.failed')).toHaveLength(1);
    expect(await history(id, 'dispatch_failed')).toHaveLength(1);
    expect(await endings(String(claim?._id))).toBe(0);

    expect(await reconcile()).toMatch(/stopped_endings=0/);
    expect(await notices(id, 'call.failed')).toHaveLength(1);
    expect(await history(id, 'dispatch_failed')).toHaveLength(1);
    expect(provider.requests).toBeGreaterThan(0);
  });

  it('an unknown outcome cut off before its call event: the pass stores call.unknown once, and leaves the schedule the run wrote alone', async () => {
    provider.answer = { kind: 'unknown', provider: 'scripted', detail: 'socket hang up' };
    const at = new Date(Math.ceil((Date.now() + 120_000) / 60_000) * 60_000);
    const id = await create('+14155550103', at, { repeat_config: { enabled: true, frequency: 'hourly' } });
    expect((await stored(id))?.next_execution).toEqual(at);
    stopAt(jest.spyOn(t.get<DomainEventPublisher>(DomainEventPublisher), 'storeOnce'));
    await dispatchCutOff(id, at);
    expect((await logOf(id)).status).toBe('unknown');
    expect(await history(id, 'dispatch_unknown')).toHaveLength(1);
    const before = await stored(id);
    expect(before).toMatchObject({ status: 'scheduled', last_call_status: 'unknown', rev: expect.any(Number) });
    expect(await notices(id, 'call.unknown')).toHaveLength(0);

    pastTheRunsRetries(at);
    expect(await reconcile()).toMatch(/stopped_endings=1/);
    expect(await notices(id, 'call.unknown')).toHaveLength(1);
    expect(await history(id, 'dispatch_unknown')).toHaveLength(1);
    // The run had written the schedule: the pass does not write it again.
    expect((await stored(id))?.rev).toBe(before?.rev);
  });

  it('an unknown outcome cut off after the claim moved, whose call then reported completed: the pass leaves the call to its reports', async () => {
    provider.answer = { kind: 'unknown', provider: 'scripted', detail: 'socket hang up' };
    const at = soon();
    const id = await create('+14155550105', at);
    stopAt(jest.spyOn(t.get<CallLogRepository>(CallLogRepository), 'markAttemptEnded'));
    await dispatchCutOff(id, at);
    const log = await logOf(id);
    expect(log.status).toBe('queued');
    // The request did reach the provider: the call's own report moves its log on.
    await t.get<CallLogRepository>(CallLogRepository).applyStatusEvent(log.id, { status: 'completed', ts: at, received_at: at, sequence_number: 3, source: 'twilio', provider_status: 'completed' }, { duration: 12 }, at);

    pastTheRunsRetries(at);
    expect(await reconcile()).toMatch(/stopped_endings=1/);
    expect((await logOf(id)).status).toBe('completed');
    expect(await notices(id, 'call.unknown')).toHaveLength(0);
    expect(await history(id, 'dispatch_unknown')).toHaveLength(0);
    expect(await endings(String((await claimOf(id))?._id))).toBe(0);
  });

  it('a refusal without a message still ends the claim, the log and the schedule', async () => {
    provider.answer = { kind: 'rejected', provider: 'scripted', code: '400', message: '' };
    const at = soon();
    const id = await create('+14155550106', at);
    await dispatchUncut(id, at);
    expect(await claimOf(id)).toMatchObject({ state: 'failed', transition: 'refused' });
    expect(await stored(id)).toMatchObject({ status: 'failed', last_error: '400: ' });
    expect((await logOf(id)).status).toBe('failed');
  });

  it('a do-not-call skip cut off before its history entry: the pass completes the one-time schedule and stores call.skipped, once', async () => {
    await http().post('/dnc').set(alice).send({ phone: '+14155550104' }).expect(201);
    const requestsBefore = provider.requests;
    const at = soon();
    const id = await create('+14155550104', at);
    stopAt(jest.spyOn(t.get<ScheduleEventRepository>(ScheduleEventRepository), 'appendOnce'));
    await dispatchCutOff(id, at);
    expect(await claimOf(id)).toMatchObject({ state: 'skipped', transition: 'skipped' });
    expect((await stored(id))?.status).toBe('running');

    pastTheRunsRetries(at);
    expect(await reconcile()).toMatch(/stopped_endings=1/);
    expect(await stored(id)).toMatchObject({ status: 'completed', last_call_status: 'skipped_dnc' });
    expect(await notices(id, 'call.skipped')).toHaveLength(1);
    expect(await history(id, 'skipped_dnc')).toHaveLength(1);
    expect(await reconcile()).toMatch(/stopped_endings=0/);
    expect(await notices(id, 'call.skipped')).toHaveLength(1);
    expect(provider.requests).toBe(requestsBefore);
  });
});
