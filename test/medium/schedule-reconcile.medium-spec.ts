import { EventEmitter2 } from '@nestjs/event-emitter';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { CallDispatcher, PlaceCallRequest, PlaceCallResult } from '../../src/calls/call-dispatcher';
import { Principal } from '../../src/auth/principal';
import { ScheduleChangedEvent } from '../../src/notification/domain-events';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { ScheduleReconcileJob } from '../../src/schedule/dispatch/schedule-reconcile.job';
import { CallDeferredJob } from '../../src/schedule/dispatch/call-deferred.job';
import { CALL_DEFERRED_JOB } from '../../src/schedule/schedule.constants';
import { InternalScheduleService } from '../../src/schedule/internal-schedule.service';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { activeSchedules, createMediumApp, createSchedule as createScheduleFor, MediumApp, principalFor, scheduleDetails } from '../utils/medium-app';
import { TestClock } from '../utils/test-clock';

// Stands in for the provider layer: like ProviderCallDispatcher it asks onDialing right before the
// request leaves and sends nothing when told the run no longer owns the attempt. A test can hold a call
// before that point (`hold`), as a slow or stalled dispatcher would be.
class GatedDispatcher extends CallDispatcher {
  readonly dials: string[] = [];
  readonly arrived: string[] = [];
  private gate: Promise<void> | null = null;
  private open: () => void = () => undefined;
  private readonly arrivals = new Map<string, () => void>();

  // Resolves once a call of this schedule has reached the dispatcher (and, if held, waits there).
  arrival(scheduleId: string): Promise<void> {
    if (this.arrived.includes(scheduleId)) return Promise.resolve();
    return new Promise((resolve) => this.arrivals.set(scheduleId, resolve));
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open();
    this.gate = null;
  }

  async placeCall(call: PlaceCallRequest): Promise<PlaceCallResult> {
    this.arrived.push(call.scheduleId!);
    this.arrivals.get(call.scheduleId!)?.();
    if (this.gate) await this.gate;
    if (call.onDialing && !(await call.onDialing('gated', 1))) return { kind: 'expired', provider: 'gated', detail: 'this run no longer owns the attempt' };
    this.dials.push(call.scheduleId!);
    return { kind: 'placed', provider: 'gated', callId: `GC${call.callLogId.padStart(32, '0')}` };
  }
}

// The scheduler is off: every dispatch and reconciliation is one the test runs itself. The provider layer
// is the GatedDispatcher, and every schedule.missed the app publishes lands in `missedEvents`.
async function startReconcilerApp(clock: TestClock, dispatcher: GatedDispatcher, missedEvents: ScheduleChangedEvent[], env: Record<string, string> = {}) {
  const t = await createMediumApp({ clock, env, override: (b) => b.overrideProvider(CallDispatcher).useValue(dispatcher) });
  t.get<EventEmitter2>(EventEmitter2).on('schedule.missed', (e: ScheduleChangedEvent) => missedEvents.push(e));
  return { t, alice: principalFor(t, 'alice') };
}

describe('reconciling stuck claims (service level, real database)', () => {
  let t: MediumApp;
  const clock = new TestClock();
  const dispatcher = new GatedDispatcher();
  const missedEvents: ScheduleChangedEvent[] = [];
  let alice: Principal;
  const handle = (id: string) => t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id);
  const reconcile = () => t.get<ScheduleReconcileJob>(ScheduleReconcileJob).handle();
  const claims = () => t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository);
  const getSchedule = (id: string) => scheduleDetails(t, alice, id);
  const createSchedule = async (at: Date): Promise<string> => (await createScheduleFor(t, alice, { phone: '+14155552671', scheduled_time: at.toISOString() })).id;
  const pastStuckThreshold = (at: Date) => new Date(at.getTime() + (t.config.scheduler.unknownClaimAfterSeconds + 5) * 1000);
  const eventTypes = (s: { events: Array<{ type: string }> }) => s.events.map((e) => e.type);

  beforeAll(async () => {
    ({ t, alice } = await startReconcilerApp(clock, dispatcher, missedEvents));
  });
  afterAll(() => t.close());
  beforeEach(() => clock.set(new Date()));

  it('D1: a one-time schedule advanced to running by a dispatcher that died before dialing ends missed', async () => {
    const at = new Date(Date.now() + 60_000);
    const id = await createSchedule(at);
    const schedule = (await t.get<ScheduleRepository>(ScheduleRepository).findById(id))!;
    // The dead dispatcher's two writes: the claim, then the advance to running. Nothing was dialed.
    const won = await claims().claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'crashed:1', now: at });
    expect(won.won).toBe(true);
    expect(await t.get<ScheduleRepository>(ScheduleRepository).advanceOccurrence(id, schedule.version, at, { next_execution: null, status: 'running', last_occurrence_at: at, last_updated: at }, 1)).toBe(true);
    expect((await getSchedule(id)).status).toBe('running');

    clock.set(pastStuckThreshold(at));
    await reconcile();
    const s = await getSchedule(id);
    expect(s).toMatchObject({ status: 'missed', last_call_status: 'missed' });
    expect(eventTypes(s)).toEqual(expect.arrayContaining(['occurrence_missed', 'missed']));
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim.state).toBe('missed');
    expect(missedEvents.filter((e) => e.schedule_id === id)).toHaveLength(1);
    const active = await activeSchedules(t, alice);
    expect(JSON.stringify(active)).not.toContain(id);
    expect(await handle(id)).toEqual({ outcome: 'inactive', nextRunAt: null });
    // A second pass finds nothing more to do.
    await reconcile();
    expect(missedEvents.filter((e) => e.schedule_id === id)).toHaveLength(1);
    expect(dispatcher.dials.filter((d) => d === id)).toHaveLength(0);
  });

  it('D10: the reconciler gave the claim up first, so the stalled dispatcher must not dial', async () => {
    const at = new Date(Date.now() + 60_000);
    const id = await createSchedule(at);
    clock.set(at);
    dispatcher.hold();
    const run = handle(id);
    try {
      await Promise.race([dispatcher.arrival(id), run.then((r) => Promise.reject(new Error(`dispatch ended before reaching the dispatcher: ${r.outcome}`)))]);
      clock.set(pastStuckThreshold(at));
      await reconcile();
    } finally {
      dispatcher.release();
    }
    await run;
    expect(dispatcher.dials.filter((d) => d === id)).toHaveLength(0);
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim.state).toBe('missed');
    expect((await claims().decisionOf(claim.id))?.decision).toBe('give_up');
    const s = await getSchedule(id);
    expect(s.status).toBe('missed');
    // Recorded once, by the reconciler; the dispatcher that lost the decision adds no second miss.
    expect(eventTypes(s).filter((type) => type === 'missed')).toHaveLength(1);
    expect(missedEvents.filter((e) => e.schedule_id === id)).toHaveLength(1);
  });

  it('D10: the dispatcher decided to dial first, so the reconciler must not record the claim missed', async () => {
    const at = new Date(Date.now() + 60_000);
    const id = await createSchedule(at);
    const won = await claims().claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'slow:1', now: at });
    if (!won.won) throw new Error('claim not won');
    // The dispatcher's decision is in, but its claimed -> dialing update is not (yet) visible: the
    // reconciler reads the claim as `claimed`, as it can when FerretDB's updates race.
    expect((await claims().decide(won.claim.id, 'dial', 'slow:1', at)).decision).toBe('dial');
    clock.set(pastStuckThreshold(at));
    await reconcile();
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim.state).toBe('unknown');
    const s = await getSchedule(id);
    expect(s.status).not.toBe('missed');
    expect(eventTypes(s)).not.toContain('occurrence_missed');
    expect(eventTypes(s)).toContain('occurrence_unknown');
    expect(missedEvents.filter((e) => e.schedule_id === id)).toHaveLength(0);
    expect((await claims().decide(won.claim.id, 'give_up', 'reconciler', clock.now())).decision).toBe('dial');
  });

  it('a dispatch that ran normally left a dial decision and dialed once; the reconciler leaves it alone', async () => {
    const at = new Date(Date.now() + 60_000);
    const id = await createSchedule(at);
    clock.set(at);
    expect((await handle(id)).outcome).toBe('dispatched');
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim.state).toBe('dialed');
    expect((await claims().decisionOf(claim.id))?.decision).toBe('dial');
    clock.set(pastStuckThreshold(at));
    await reconcile();
    expect((await claims().findForSchedule(id, 5))[0].state).toBe('dialed');
    expect((await getSchedule(id)).status).toBe('running');
    expect(dispatcher.dials.filter((d) => d === id)).toHaveLength(1);
  });

  it('D2: a claim insert repeated after a lost reply recognises its own claim, and only its own', async () => {
    const at = new Date(Date.now() + 60_000);
    const id = await createSchedule(at);
    const input = { scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: 'claimed' as const, instance: 'me:1', now: at, runId: 'run-a' };
    const first = await claims().claimOccurrence(input);
    const repeated = await claims().claimOccurrence({ ...input, repeat: true });
    const other = await claims().claimOccurrence({ ...input, runId: 'run-b', repeat: true });
    const anonymous = await claims().claimOccurrence({ ...input, runId: undefined, repeat: true });
    // Only a repeat can have landed before: a first insert that collides counts the claim as another's.
    const firstAgain = await claims().claimOccurrence(input);
    expect(first.won && repeated.won && repeated.claim.id === first.claim.id).toBe(true);
    expect(other.won).toBe(false);
    expect(anonymous.won).toBe(false);
    expect(firstAgain.won).toBe(false);
    expect(await claims().findForSchedule(id, 5)).toHaveLength(1);
  });

  describe('withdrawing a campaign attempt before its dispatch', () => {
    const withdraw = (id: string) => t.get<InternalScheduleService>(InternalScheduleService).cancelIfNotStarted(id);

    it('takes the occurrence claim first: a dispatch that read the schedule before the cancel dials nothing', async () => {
      const at = new Date(Date.now() + 60_000);
      const id = await createSchedule(at);
      expect(await withdraw(id)).toBe(true);
      expect((await getSchedule(id)).status).toBe('cancelled');
      expect((await claims().findForSchedule(id, 5)).map((c) => [c.state, c.occurrence_at.getTime()])).toEqual([['skipped', at.getTime()]]);
      // The racing dispatcher's first write after its read is this insert, and it loses.
      expect((await claims().claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'racer:1', now: at, runId: 'racer' })).won).toBe(false);
      clock.set(at);
      expect((await handle(id)).outcome).toBe('inactive');
      expect(dispatcher.arrived).not.toContain(id);
    });

    it('leaves an occurrence a dispatcher already claimed to finish, even before the schedule shows it', async () => {
      const at = new Date(Date.now() + 60_000);
      const id = await createSchedule(at);
      // Claimed, not yet advanced: the schedule still reads scheduled at the same version.
      expect((await claims().claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'dispatcher:1', now: at })).won).toBe(true);
      expect(await withdraw(id)).toBe(false);
      expect((await getSchedule(id)).status).toBe('scheduled');
      expect((await claims().findForSchedule(id, 5)).map((c) => c.state)).toEqual(['claimed']);
    });
  });
});

// Issue 16: a claim that provably never reached the provider (the reconciler's give-up insert won) is
// dialed again under a new claim while the occurrence's misfire grace allows, instead of being recorded
// missed. Past the grace it still ends missed (D1 above).
describe('dialing a provably unsent occurrence again (service level, real database)', () => {
  let t: MediumApp;
  const clock = new TestClock();
  const dispatcher = new GatedDispatcher();
  const missedEvents: ScheduleChangedEvent[] = [];
  let alice: Principal;
  const reconcile = () => t.get<ScheduleReconcileJob>(ScheduleReconcileJob).handle();
  const claims = () => t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository);
  const deferredJobs = (id: string) =>
    t
      .get<Connection>(getConnectionToken())
      .collection('agenda_jobs')
      .find({ name: CALL_DEFERRED_JOB, 'data.schedule_id': id })
      .toArray();

  // A one-time schedule due a minute from now whose dispatcher claimed it and advanced it to running, then
  // stopped: the claim's id and the schedule's.
  async function stoppedAfterAdvance(phone: string): Promise<{ at: Date; id: string; claimId: string }> {
    const at = new Date(Date.now() + 60_000);
    clock.set(new Date(at.getTime() - 1000));
    const id = (await createScheduleFor(t, alice, { phone, scheduled_time: at.toISOString() })).id;
    const repo = t.get<ScheduleRepository>(ScheduleRepository);
    const schedule = (await repo.findById(id))!;
    const won = await claims().claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'crashed:1', now: at });
    expect(won.won).toBe(true);
    expect(await repo.advanceOccurrence(id, schedule.version, at, { next_execution: null, status: 'running', last_occurrence_at: at, last_updated: at }, 1)).toBe(true);
    return { at, id, claimId: won.won ? won.claim.id : '' };
  }

  beforeAll(async () => {
    // Claims count as stuck after 15 s, well within the default 300 s grace.
    ({ t, alice } = await startReconcilerApp(clock, dispatcher, missedEvents, { SCHEDULER_UNKNOWN_CLAIM_AFTER_SECONDS: '15' }));
  });
  afterAll(() => t.close());

  it.each([
    ['advanced to running', true],
    ['not yet advanced', false],
  ])('a one-time schedule whose dispatcher died before dialing (%s) is dialed once, under deferral 1', async (_label, advanced) => {
    const at = new Date(Date.now() + 60_000);
    clock.set(new Date(at.getTime() - 1000));
    const id = (await createScheduleFor(t, alice, { phone: '+14155552672', scheduled_time: at.toISOString() })).id;
    const schedule = (await t.get<ScheduleRepository>(ScheduleRepository).findById(id))!;
    const won = await claims().claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'crashed:1', now: at });
    expect(won.won).toBe(true);
    if (advanced) {
      expect(await t.get<ScheduleRepository>(ScheduleRepository).advanceOccurrence(id, schedule.version, at, { next_execution: null, status: 'running', last_occurrence_at: at, last_updated: at }, 1)).toBe(true);
    }

    clock.set(new Date(at.getTime() + 20_000));
    await reconcile();
    const [job] = await deferredJobs(id);
    expect(job.data).toMatchObject({ schedule_id: id, occurrence_at: at.toISOString(), attempt_number: 1, deferral: 1, run_at: at.toISOString() });
    const given = await getDetails(id);
    expect(given).toMatchObject({ status: 'pending' });
    expect(given.events.map((e: { type: string }) => e.type)).toContain('occurrence_redialed');
    expect(dispatcher.dials.filter((d) => d === id)).toHaveLength(0);

    // The job dials it; run again (a second instance, a repeat), its claim lets it dial only once.
    expect((await t.get<CallDeferredJob>(CallDeferredJob).handle(job.data)).outcome).toBe('dispatched');
    // Its schedule is running now (inactive), and its claim is taken (already_claimed): either way, no dial.
    expect(['inactive', 'already_claimed']).toContain((await t.get<CallDeferredJob>(CallDeferredJob).handle(job.data)).outcome);
    await reconcile();
    expect(dispatcher.dials.filter((d) => d === id)).toHaveLength(1);
    const byDeferral = (await claims().findForSchedule(id, 5)).sort((a, b) => a.deferral - b.deferral);
    expect(byDeferral.map((c) => [c.deferral, c.state])).toEqual([
      [0, 'missed'],
      [1, 'dialed'],
    ]);
    expect(byDeferral[0].detail).toContain('dialed again under deferral 1');
    const after = await getDetails(id);
    expect(after.status).toBe('running');
    expect(after.events.map((e: { type: string }) => e.type)).not.toContain('missed');
    expect(missedEvents.filter((e) => e.schedule_id === id)).toHaveLength(0);
  });

  // The stopped run wrote its deferral's job and stopped before its ending; the deferred run (deferral 1)
  // then placed its call. Neither a re-dial nor the end of the schedule may land on that live call.
  it.each([
    ['within its grace', 20_000],
    ['past its grace', 360_000],
  ])('a stopped run whose occurrence a later run holds (%s) ends alone: the schedule and its live call are left to that run', async (_label, after) => {
    const { at, id } = await stoppedAfterAdvance('+14155552676');
    const later = await claims().claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, deferral: 1, state: 'claimed', instance: 'live:1', now: new Date(at.getTime() + 5000) });
    expect(later.won).toBe(true);
    expect(await claims().move(later.won ? later.claim.id : '', 'placed', { call_id: 'GClive', provider: 'gated' }, new Date(at.getTime() + 5000))).toBe(true);

    clock.set(new Date(at.getTime() + after));
    await reconcile();
    expect(await deferredJobs(id)).toHaveLength(0);
    const s = await getDetails(id);
    expect(s.status).toBe('running');
    expect(s.events.map((e: { type: string }) => e.type)).toContain('occurrence_superseded');
    expect(s.events.map((e: { type: string }) => e.type)).not.toContain('missed');
    expect(missedEvents.filter((e) => e.schedule_id === id)).toHaveLength(0);
    const byDeferral = (await claims().findForSchedule(id, 5)).sort((a, b) => a.deferral - b.deferral);
    expect(byDeferral.map((c) => [c.deferral, c.state])).toEqual([
      [0, 'missed'],
      [1, 'dialed'],
    ]);
  });

  it('a stalled dispatcher that lost the decision leaves the occurrence to the reconciler, which dials it again', async () => {
    const at = new Date(Date.now() + 120_000);
    clock.set(new Date(at.getTime() - 1000));
    const id = (await createScheduleFor(t, alice, { phone: '+14155552673', scheduled_time: at.toISOString() })).id;
    clock.set(at);
    dispatcher.hold();
    const run = t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id);
    try {
      await Promise.race([dispatcher.arrival(id), run.then((r) => Promise.reject(new Error(`dispatch ended before reaching the dispatcher: ${r.outcome}`)))]);
      clock.set(new Date(at.getTime() + 20_000));
      await reconcile();
    } finally {
      dispatcher.release();
    }
    await run;
    expect(dispatcher.dials.filter((d) => d === id)).toHaveLength(0);
    expect((await getDetails(id)).status).toBe('pending');
    const [job] = await deferredJobs(id);
    expect((await t.get<CallDeferredJob>(CallDeferredJob).handle(job.data)).outcome).toBe('dispatched');
    expect(dispatcher.dials.filter((d) => d === id)).toHaveLength(1);
    expect(missedEvents.filter((e) => e.schedule_id === id)).toHaveLength(0);
  });

  it('a recurring schedule edited since its claimant died has replaced that occurrence: it is not dialed again', async () => {
    const at = new Date(Math.ceil((Date.now() + 3_600_000) / 3_600_000) * 3_600_000);
    clock.set(new Date(at.getTime() - 60_000));
    const id = (await createScheduleFor(t, alice, { phone: '+14155552674', scheduled_time: at.toISOString(), repeat_config: { enabled: true, frequency: 'hourly' } })).id;
    const repo = t.get<ScheduleRepository>(ScheduleRepository);
    const schedule = (await repo.findById(id))!;
    expect(schedule.next_execution?.getTime()).toBe(at.getTime());
    expect((await claims().claimOccurrence({ scheduleId: id, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'crashed:1', now: at })).won).toBe(true);
    // Edited before its advance: a new version, due half an hour later.
    const moved = new Date(at.getTime() + 1_800_000);
    expect(await repo.updateIfVersion(id, schedule.version, ['scheduled'], { next_execution: moved, scheduled_time: moved })).not.toBeNull();

    clock.set(new Date(at.getTime() + 20_000));
    await reconcile();
    expect(await deferredJobs(id)).toHaveLength(0);
    const [claim] = await claims().findForSchedule(id, 5);
    expect(claim).toMatchObject({ state: 'missed' });
    expect(claim.detail).not.toContain('dialed again');
    const s = await getDetails(id);
    expect(s).toMatchObject({ status: 'scheduled', next_execution: moved.toISOString() });
    expect(s.events.map((e: { type: string }) => e.type)).toContain('occurrence_missed');
  });

  it('keeps a re-dial an earlier pass decided, even once the grace has passed', async () => {
    const { at, id, claimId } = await stoppedAfterAdvance('+14155552675');
    // An earlier pass gave the claim up and decided to dial again, then stopped before writing its job.
    expect((await claims().decide(claimId, 'give_up', 'reconciler', new Date(at.getTime() + 20_000))).decision).toBe('give_up');
    await claims().recordRedial(claimId, 'reconciler', new Date(at.getTime() + 20_000));

    clock.set(new Date(at.getTime() + (t.config.scheduler.misfireGraceSeconds + 60) * 1000));
    await reconcile();
    const [job] = await deferredJobs(id);
    expect(job.data).toMatchObject({ deferral: 1, run_at: at.toISOString() });
    const s = await getDetails(id);
    expect(s.status).toBe('pending');
    expect(s.events.map((e: { type: string }) => e.type)).not.toContain('missed');
    expect(missedEvents.filter((e) => e.schedule_id === id)).toHaveLength(0);
  });

  const getDetails = (id: string) => scheduleDetails(t, alice, id);
});
