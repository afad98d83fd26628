import { Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { CallDispatcher, CallLookup, SEND_TICKET_VALID_MS } from '../../calls/call-dispatcher';
import { Clock } from '../../common/clock/clock';
import { AppConfig } from '../../config/app-config';
import { JobOutcome, JobQueueService } from '../../jobs/job-queue.service';
import { CallLogRepository } from '../../tracking/call-log.repository';
import { OccurrenceClaimRepository } from '../occurrence-claim.repository';
import { ScheduleEventRepository } from '../schedule-event.repository';
import { ScheduleRepository } from '../schedule.repository';
import { ScheduleCreationRelay } from '../schedule-creation.relay';
import { nextWithinBounds } from '../schedule-timing';
import { CLAIM_TRANSITIONS } from '../occurrence-claim.transitions';
import { OccurrenceClaim, Schedule, ScheduleStatus } from '../schedule.types';
import { ScheduleChangeEvent } from '../schedule-outbox';
import { scheduleChanged } from '../schedule-changed';
import { scheduleFinalKey } from '../schedule-outcome.service';
import { DomainEventPublisher } from '../../notification/domain-event.publisher';
import { CALL_DEFERRED_JOB, LEGACY_DISPATCH_JOB, RECONCILE_EVERY, RECONCILE_JOB } from '../schedule.constants';
import { CallDeferredPayload } from './call-deferred.payload';
import { callRequestOf, OccurrenceDispatchService } from './occurrence-dispatch.service';
import { DispatchTrigger } from './dispatch-trigger';

const BATCH = 200;

// The events of the reconciler's own advance past a stuck claim's occurrence, in the schedule's write (its
// outbox), as the dispatcher's advance and ending would have sent them. `failed` is announced apart
// (announceFailed).
function advanceEvents(status: ScheduleStatus, claim: OccurrenceClaim): ScheduleChangeEvent[] {
  if (status === 'completed') return [{ notify: 'schedule.completed', history: null }];
  if (status === 'missed') return [{ notify: 'schedule.missed', notifyData: { occurrence_at: claim.occurrence_at.toISOString(), reason: 'dispatcher_stopped' }, history: null }];
  return [];
}
// Within the job's 60 s lock: a pass that cannot finish its batch (a slow database) stops in time, and the
// next pass goes on from what is still stuck, instead of being cancelled and redone from the start.
const PASS_BUDGET_MS = 40_000;
const CLOCK_SKEW_MS = 1000;
const RECONCILER = 'reconciler';
// The stopped runs' endings get what is left of the job's lock after the stuck claims' budget.
const ENDINGS_BUDGET_MS = 10_000;

// Cluster-wide (one Agenda job, so one instance runs each tick):
//  - claims stuck between claim and dial (a crash) become `missed` (provably never sent) or `unknown`
//    (never dialed again). A claim decided `dial` is looked up at the provider first: a call found there
//    ends it `dialed`. A provably unsent occurrence still within its misfire grace (or under
//    misfire_policy run_once) is dialed again under a new claim (deferral n+1, through a call.deferred
//    job); past it, a one-time schedule left `pending` by the unsent claim ends missed;
//  - a run that ended its claim without a call (refused, unknown, skipped, deferred, start window passed)
//    and stopped before writing the rest has its log, history entry, schedule and call event written;
//  - jobs of the retired per-schedule Agenda job kind are removed (data from before the sweeper alone
//    triggered schedules).
@Injectable()
export class ScheduleReconcileJob implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(ScheduleReconcileJob.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly schedules: ScheduleRepository,
    private readonly claims: OccurrenceClaimRepository,
    private readonly events: ScheduleEventRepository,
    private readonly callLogs: CallLogRepository,
    private readonly trigger: DispatchTrigger,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly dispatcher: CallDispatcher,
    private readonly dispatch: OccurrenceDispatchService,
    private readonly publisher: DomainEventPublisher,
    private readonly creations: ScheduleCreationRelay,
  ) {}

  onModuleInit(): void {
    // A short lock: a pass cut off by a crash must not stop reconciliation for the default lifetime.
    this.jobs.define(RECONCILE_JOB, () => this.handle(), { concurrency: 1, lockLifetimeMs: 60_000 });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.scheduler.enabled) await this.jobs.every(RECONCILE_EVERY, RECONCILE_JOB);
  }

  async handle(): Promise<JobOutcome> {
    // Schedules need no repair here: every instance's sweeper reads all due schedules, overdue included.
    await this.jobs.removeAll(LEGACY_DISPATCH_JOB);
    const stuck = await this.settleStuckClaims();
    const stalled = await this.schedules.finishStalledChanges(BATCH, (schedule, audit) => this.creations.store(schedule, schedule.created_at, audit, true));
    return { outcome: `stuck=${stuck} stalled_changes=${stalled} stopped_endings=${await this.dispatch.finishStoppedEndings(BATCH, Date.now() + ENDINGS_BUDGET_MS)}` };
  }

  async settleStuckClaims(): Promise<number> {
    const now = this.clock.now();
    const before = new Date(now.getTime() - this.config.scheduler.unknownClaimAfterSeconds * 1000);
    const stuck = await this.claims.findStuck(before, BATCH);
    const deadline = Date.now() + PASS_BUDGET_MS;
    let count = 0;
    // The schedule is repaired before the claim is marked: marking is what takes the claim out of findStuck,
    // so a pass cut off by a crash (or its budget) before that point is done again by the next pass, and
    // every repair step can be repeated.
    for (const claim of stuck) {
      if (Date.now() > deadline) break;
      // A claim that never reached `dialing` sent nothing, unless its dispatcher decided to dial first (it
      // may be dialing right now): giving up is decided by the same unique insert the dispatcher makes.
      const decided = claim.state === 'claimed' ? await this.claims.decide(claim.id, 'give_up', RECONCILER, now) : await this.claims.decisionOf(claim.id);
      const givenUp = claim.state === 'claimed' && decided?.decision === 'give_up';
      let schedule = await this.schedules.findById(claim.schedule_id);
      const dialDecided = !givenUp && decided?.decision === 'dial';
      // An earlier pass proved this attempt unsent and wrote its re-dial, then stopped before the move: a
      // lookup now could find the re-dial's call and take it for this attempt's.
      const redialing = dialDecided && (await this.claims.redialRecorded(claim.id));
      // Decided to dial: the provider is asked whether the call exists.
      const lookup = dialDecided && !redialing ? await this.lookUp(claim, schedule, decided.decided_at) : null;
      if (lookup?.kind === 'found' && schedule) {
        if (await this.recordFound(claim, schedule, lookup, now)) count++;
        continue;
      }
      let notAtProvider = redialing;
      // No call, but proof of none only when the lookup asked for what was dialed, once no request of the
      // attempt can still leave (the fence takes its next ticket) and each one that left has been answered
      // or abandoned: until then a later pass asks again.
      if (lookup?.kind === 'not_found' && dialDecided && this.askedAsDialed(schedule, claim)) {
        const fenced = await this.claims.fenceSends(claim.id, RECONCILER, this.clock.now());
        if (!this.sendsSettledSince(new Date(Math.max(fenced.getTime(), decided.decided_at.getTime())), now)) continue;
        // A call an earlier pass found and named on the log (it stopped before its move) was placed, whatever
        // this lookup says: the claim ends unknown, and call.reconcile finishes the log through its call id.
        const named = claim.call_log_id ? (await this.callLogs.findById(claim.call_log_id))?.call_id : null;
        // Taken before the re-dial is written: a dispatcher that was only slow, and whose own ending's move is
        // refused once this pass has moved the claim, then finds it taken and records nothing.
        notAtProvider = !named && (await this.claims.takeOutcome(claim.id, RECONCILER, now));
      }
      const neverSent = givenUp || notAtProvider;
      const transition = givenUp ? 'given_up' : notAtProvider ? 'not_at_provider' : 'stuck_after_dial';
      const state = CLAIM_TRANSITIONS[transition].to;
      // A later run of the occurrence has claimed it (the stopped run's deferral, or an earlier pass's re-dial,
      // whose job ran): the schedule is that run's, and this claim only ends.
      const superseded = neverSent && (await this.claims.laterRunClaimed(claim));
      // Dial it again if its grace allows, or if an earlier pass already decided so (read above for a claim
      // decided `dial`).
      const wanted = neverSent && !superseded && schedule !== null && (redialing || this.withinGrace(schedule, claim, now) || (givenUp && (await this.claims.redialRecorded(claim.id))));
      let advancedHere = false;
      if (schedule && schedule.status === 'scheduled' && schedule.next_execution?.getTime() === claim.occurrence_at.getTime()) {
        // The claimant died before advancing: move the schedule on so later occurrences still fire.
        const next = schedule.repeat_config ? nextWithinBounds(schedule, now, schedule.occurrence_count + 1) : null;
        const status = schedule.repeat_config ? (next ? 'scheduled' : 'completed') : wanted ? 'pending' : neverSent ? 'missed' : 'failed';
        if (await this.schedules.advanceOccurrence(schedule.id, schedule.version, claim.occurrence_at, { next_execution: next, status, ...(wanted ? {} : { last_call_status: state }), last_updated: now }, 1, { at: now, events: advanceEvents(status, claim) })) {
          advancedHere = true;
          const version = schedule.version;
          schedule = { ...schedule, status, next_execution: next, last_occurrence_at: claim.occurrence_at };
          this.trigger.armed(schedule.id, status, next);
          if (status === 'failed') await this.announceFailed(schedule, version, state, now);
        } else {
          // The claimant's own advance landed first: it died after its write gate and the gate's takeover
          // wrote its change for it, so a one-time schedule may now read running, to be ended below.
          schedule = (await this.schedules.findById(claim.schedule_id)) ?? schedule;
        }
      }
      const redial = wanted && schedule !== null && this.stillExpects(schedule, claim, advancedHere);
      if (redial && schedule) {
        // Recorded, then written, before the claim is marked: a pass cut off in between leaves the claim stuck,
        // and the next pass keeps to the decision and writes the job again; of two jobs, the claim of
        // deferral n+1 lets one dial.
        await this.claims.recordRedial(claim.id, RECONCILER, now);
        // A one-time schedule waits for the re-dial's job: pending, written before the job, whose run takes
        // it back to running (a repeat after a stop finds it pending and writes nothing).
        await this.schedules.awaitDialJob(schedule, now);
        const payload: CallDeferredPayload = {
          schedule_id: schedule.id,
          occurrence_at: claim.occurrence_at.toISOString(),
          attempt_number: claim.attempt_number,
          deferral: claim.deferral + 1,
          run_at: this.dueReference(claim).toISOString(),
        };
        await this.jobs.createJob(CALL_DEFERRED_JOB, payload, now);
      } else if (schedule && neverSent && !superseded && !schedule.repeat_config && (schedule.status === 'running' || schedule.status === 'pending')) {
        // The dispatcher advanced the one-time schedule to running (or took it from pending, a deferred or
        // retry run), then stopped before dialing.
        await this.endOneTimeMissed(schedule, claim.occurrence_at, now);
      }
      const checked = lookup?.kind === 'not_found' ? `; ${lookup.provider} has no record of its call` : lookup?.kind === 'unavailable' ? `; lookup: ${lookup.detail}` : '';
      const detail = `stuck in ${claim.state} since ${claim.claimed_at.toISOString()}${checked}${redial ? `; dialed again under deferral ${claim.deferral + 1}` : ''}`;
      if (!(await this.claims.move(claim.id, transition, { detail }, now))) continue;
      count++;
      // Only once the claim is ours to end: a dispatcher that finished meanwhile keeps its log as it wrote it.
      if (claim.call_log_id) {
        await this.callLogs.markAttemptEnded(claim.call_log_id, neverSent ? 'canceled' : 'unknown', { error_message: `dispatcher stopped while ${claim.state}` }, now);
      }
      if (schedule) {
        const [type, message] = redial
          ? ['occurrence_redialed', `Occurrence ${claim.occurrence_at.toISOString()} was never sent when its dispatcher stopped; it is dialed again under a new claim (deferral ${claim.deferral + 1})`]
          : superseded
            ? ['occurrence_superseded', `Occurrence ${claim.occurrence_at.toISOString()} was ${claim.state} when its dispatcher stopped, never sent; a later run of it holds the schedule`]
            : [
                neverSent ? 'occurrence_missed' : 'occurrence_unknown',
                `Occurrence ${claim.occurrence_at.toISOString()} was ${claim.state} when its dispatcher stopped; it is recorded ${state} and will not be redialed`,
              ];
        await this.events.appendFor(schedule, now, 'warn', type, message, {
          occurrence_at: claim.occurrence_at.toISOString(),
          claim_state: claim.state,
          call_log_id: claim.call_log_id,
          ...(redial ? { deferral: claim.deferral + 1 } : {}),
        });
      }
      this.logger.warn(`claim ${claim.id} (${claim.schedule_id} @ ${claim.occurrence_at.toISOString()}) marked ${state}`);
    }
    return count;
  }

  // A claim decided `dial` whose dispatcher stopped (or stalls): the provider is asked whether it created the
  // call. Found, it is recorded at once: a dispatcher that is only slow and moves the claim first records it
  // itself, and takeOutcome keeps the two from both recording it. "Not found" leaves the claim unknown, as
  // before: a dispatcher that is alive may still be retrying, so it proves nothing.
  private async lookUp(claim: OccurrenceClaim, schedule: Schedule | null, decidedAt: Date): Promise<CallLookup | null> {
    const logId = claim.call_log_id;
    if (!logId || !schedule) return null;
    const request = { ...callRequestOf(schedule, logId, claim.occurrence_at, claim.attempt_number), isKnownCall: (callId: string) => this.callLogs.belongsToAnotherLog(callId, logId) };
    return this.dispatcher.lookUpCall(request, decidedAt);
  }

  // The stopped dispatcher's call exists: the claim ends dialed and the rest is recorded as the dispatcher
  // would have; the call's status comes by its callbacks, or the call reconciler fetches it.
  private async recordFound(claim: OccurrenceClaim, schedule: Schedule, found: { provider: string; callId: string }, now: Date): Promise<boolean> {
    const detail = `found at ${found.provider} after its dispatcher stopped`;
    // Taken before the claim moves: a dispatcher that did not stop, and moves it first, records the call itself.
    if (!(await this.claims.takeOutcome(claim.id, RECONCILER, now))) return false;
    // The log names the call before the claim settles: a pass that stops after the move (the claim then
    // leaves findStuck) still leaves a log that its callbacks, or call.reconcile, finish through the call id.
    await this.callLogs.recordPlacedCall(claim.call_log_id!, found.provider, found.callId, now);
    const placed = { ...found, reconciled: true };
    // Stored before the move too: after it, nothing would redo it.
    const dispatched = await this.dispatch.storeDispatched(schedule, claim, claim.call_log_id!, placed, now);
    if (!(await this.claims.move(claim.id, 'found_at_provider', { call_id: found.callId, provider: found.provider, detail }, now))) return false;
    await this.dispatch.recordPlaced({ schedule, claim, logId: claim.call_log_id!, lagMs: now.getTime() - this.dueReference(claim).getTime(), how: ` (${detail})` }, placed, now, dispatched);
    this.logger.warn(`claim ${claim.id} (${claim.schedule_id} @ ${claim.occurrence_at.toISOString()}): call ${found.callId} ${detail}`);
    return true;
  }

  // Every request of a fenced attempt left within SEND_TICKET_VALID_MS of its ticket, all of them before
  // the fence, and each ended within a request timeout; the dispatcher's own lookup of an unanswered
  // request waits UNKNOWN_LOOKUP_DELAY_MS more before it believes "not found", and so does this one.
  // `now` is read before the lookup it judges; the fence's time after the lookup that found it missing. The
  // two may come from different instances' clocks: a second of slack.
  private sendsSettledSince(fencedAt: Date, now: Date): boolean {
    const timeout = Math.max(this.config.twilio.requestTimeoutMs, this.config.agentBackend.requestTimeoutMs);
    return now.getTime() - fencedAt.getTime() >= SEND_TICKET_VALID_MS + timeout + this.config.dialing.unknownLookupDelayMs + CLOCK_SKEW_MS;
  }

  // The lookup asks with the schedule's number and provider options as they are now, and the run dialed the
  // schedule as it was when it claimed (the advance writes last_updated at the claim's time): proof only if
  // nothing wrote the schedule since (an edit of a recurring schedule while the run waited for a slot, a
  // later occurrence's advance).
  private askedAsDialed(schedule: Schedule | null, claim: OccurrenceClaim): boolean {
    return schedule !== null && schedule.last_updated.getTime() <= claim.claimed_at.getTime();
  }

  // The time the stuck run was due at: the occurrence, or for a deferred run the time it was claimed (its
  // window opening or redial, about when its job ran).
  private dueReference(claim: OccurrenceClaim): Date {
    return claim.deferral > 0 ? claim.claimed_at : claim.occurrence_at;
  }

  // A provably unsent occurrence may be dialed again within the misfire grace (misfire_policy skip), or at
  // any lateness under run_once, like a late trigger. (The re-dial's own start-by is the same deadline.)
  private withinGrace(schedule: Schedule, claim: OccurrenceClaim, now: Date): boolean {
    if (schedule.misfire_policy !== 'skip') return true;
    return now.getTime() - this.dueReference(claim).getTime() <= this.config.scheduler.misfireGraceSeconds * 1000;
  }

  // ...and only while its schedule still expects this occurrence: a one-time schedule advanced to running
  // by its claimant (pending: advanced by this pass, or waiting for a deferred or retry run); a recurring
  // one still running whose advance past this occurrence was the claimant's or this pass's. A schedule
  // edited, paused or resumed since has replaced it: the old run is dropped, as the dispatcher drops a
  // superseded one.
  private stillExpects(schedule: Schedule, claim: OccurrenceClaim, advancedHere: boolean): boolean {
    if (!schedule.repeat_config) return schedule.status === 'running' || schedule.status === 'pending';
    const running = schedule.status === 'scheduled' || schedule.status === 'completed';
    const advancedPast = advancedHere || (schedule.last_occurrence_at !== null && schedule.last_occurrence_at.getTime() >= claim.occurrence_at.getTime());
    return running && advancedPast;
  }

  // A one-time schedule failed with a dial whose outcome is unknown. Its event takes the key of the
  // schedule's final event (scheduleFinalKey): when the dial settles later, that outcome finds the
  // schedule ended and its event stored, and stores nothing twice. A pass that stops before this leaves
  // the event to that outcome.
  private async announceFailed(schedule: Schedule, version: number, lastCallStatus: string, now: Date): Promise<void> {
    const event = scheduleChanged('schedule.failed', schedule, now, { last_error: null, last_call_status: lastCallStatus });
    await this.publisher.storeOnce(event, scheduleFinalKey(schedule.id, version));
    this.publisher.publish(event);
  }

  private async endOneTimeMissed(schedule: Schedule, occurrenceAt: Date, now: Date): Promise<void> {
    const data = { occurrence_at: occurrenceAt.toISOString(), reason: 'dispatcher_stopped' };
    await this.schedules.recordCallProgress(schedule.id, ['pending', 'running'], { status: 'missed', last_call_status: 'missed', last_updated: now }, {
      at: now,
      events: [{ notify: 'schedule.missed', notifyData: data, history: { type: 'missed', level: 'warn', message: 'Not dialed: its dispatcher stopped after claiming the occurrence', data } }],
    });
  }
}
