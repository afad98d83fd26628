import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { CallDispatcher, PlaceCallRequest, PlaceCallResult } from '../../calls/call-dispatcher';
import { DialDecision, DialPolicy, DialSubject } from '../../calls/dial-policy.service';
import { Clock } from '../../common/clock/clock';
import { AppConfig } from '../../config/app-config';
import { JobOutcome } from '../../jobs/job-queue.service';
import { DomainEventPublisher } from '../../notification/domain-event.publisher';
import { CallChangedEvent } from '../../notification/domain-events';
import { CallLogProgress, CallLogRepository } from '../../tracking/call-log.repository';
import { CallStatus } from '../../tracking/call-status';
import { JobQueueService } from '../../jobs/job-queue.service';
import { CALL_DEFERRED_JOB } from '../schedule.constants';
import { CallDeferredPayload } from './call-deferred.payload';
import { retryTransient } from './transient-retry';
import { ClaimOccurrenceInput, ClaimResult, OccurrenceClaimRepository } from '../occurrence-claim.repository';
import { ScheduleEventRepository } from '../schedule-event.repository';
import { ScheduleRepository } from '../schedule.repository';
import { dueOccurrences, nextWithinBounds } from '../schedule-timing';
import { ScheduleChangeEvent } from '../schedule-outbox';
import { ClaimEnding, EventLevel, OccurrenceClaim, Schedule, ScheduleStatus } from '../schedule.types';
import { EndingTransition, IN_FLIGHT_CLAIM_STATES } from '../occurrence-claim.transitions';

// A job woken a little early (clock skew between instances) still counts as on time.
const EARLY_TOLERANCE_MS = 250;
const MAX_COLLAPSED_OCCURRENCES = 1000;
// The rules are checked again right before the provider request only when it leaves this much later than
// the first check (a pacing or seat wait).
const RECHECK_AFTER_MS = 250;

function dialSubjectOf(schedule: Schedule): DialSubject {
  return {
    tenantId: schedule.tenant_id,
    phone: schedule.phone,
    respectCallingHours: schedule.respect_calling_hours,
    calleeTimezone: schedule.callee_timezone,
    fallbackTimezone: schedule.timezone,
    callingWindow: schedule.calling_window,
    campaignId: schedule.campaign_id,
  };
}

// What a run that placed no call writes on its schedule.
interface AttemptEndOnSchedule {
  status?: ScheduleStatus;
  last_call_status: string;
  last_error?: string;
}

// How much of an ending a run records (see shareAfterRefusedMove).
type EndingShare = 'all' | 'log' | 'none';

// Where each ending leaves the run's call log (a run ended before its log was written has none).
const LOG_ENDINGS: Record<EndingTransition, (e: ClaimEnding) => { status: CallStatus; fields: CallLogProgress & { provider?: string | null } }> = {
  refused: (e) => ({ status: 'failed', fields: { provider: e.provider, error_code: e.code, error_message: e.detail } }),
  expired: (e) => ({ status: 'canceled', fields: { provider: e.provider, error_code: 'start_window_passed', error_message: e.detail } }),
  outcome_unknown: (e) => ({ status: 'unknown', fields: { provider: e.provider, error_message: e.detail } }),
  skipped: (e) => ({ status: 'canceled', fields: { error_code: `skipped_${e.code}`, error_message: e.detail } }),
  deferred: (e) => ({ status: 'canceled', fields: { error_code: 'deferred_calling_hours', error_message: e.detail } }),
};

// The pass finishing a stopped run's ending finds its schedule written since: by the run itself (the same
// time and status), or by a later write that a repeat would undo.
function writtenSince(schedule: Schedule, e: ClaimEnding, set: AttemptEndOnSchedule): boolean {
  const written = schedule.last_updated.getTime();
  return written > e.at.getTime() || (written === e.at.getTime() && schedule.last_call_status === set.last_call_status);
}

// The claim's own record of its ending (CLAIM_TRANSITIONS' `set`).
function claimChangeOf(e: ClaimEnding): Partial<Pick<OccurrenceClaim, 'provider' | 'detail'>> {
  switch (e.transition) {
    case 'refused':
      return { provider: e.provider, detail: `${e.code}: ${e.detail}` };
    case 'expired':
    case 'outcome_unknown':
      return { provider: e.provider, detail: e.detail };
    case 'skipped':
      return { detail: `${e.code}: ${e.detail}` };
    case 'deferred':
      return { detail: `calling_hours: ${e.detail}` };
  }
}

// The dial policy's answer for a run, and when it was asked (clock and wall time).
interface PolicyCheck {
  at: Date;
  wall: number;
  decision: Promise<DialDecision>;
}

// A placed call's attempt, as recordPlaced writes it: its claim names the occurrence and attempt number.
export interface PlacedAttempt {
  schedule: Schedule;
  claim: OccurrenceClaim;
  logId: string;
  // When its log was created, if known (the placed call's record is kept under the log's hour).
  logTimestamp?: Date;
  lagMs: number;
  // How it was placed, for the dispatched event's message (empty, or " (found by lookup ...)").
  how: string;
}

// A call the provider created for an attempt.
export interface PlacedCall {
  provider: string;
  callId: string;
  // Found by a lookup (after an unanswered request, or by the reconciler), not in the request's answer.
  reconciled?: boolean;
  // An agent backend accepted it: the attempt ends there.
  handedOff?: boolean;
}

// What the provider layer needs of a schedule to dial, or look up, one attempt of it.
export function callRequestOf(schedule: Schedule, callLogId: string, occurrenceAt: Date, attemptNumber: number): PlaceCallRequest {
  return {
    callLogId,
    scheduleId: schedule.id,
    tenantId: schedule.tenant_id,
    phone: schedule.phone,
    occurrenceAt,
    attemptNumber,
    agentInstanceId: schedule.agent_instance_id,
    providerOptions: schedule.provider_options,
    metadata: schedule.metadata,
  };
}

function isDueBy(schedule: Schedule | null, now: Date): schedule is Schedule {
  return schedule !== null && schedule.status === 'scheduled' && schedule.next_execution !== null && schedule.next_execution.getTime() <= now.getTime() + EARLY_TOLERANCE_MS;
}

@Injectable()
export class OccurrenceDispatchService {
  private readonly logger = new Logger(OccurrenceDispatchService.name);
  readonly instance = `${hostname()}:${process.pid}`;

  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly claims: OccurrenceClaimRepository,
    private readonly events: ScheduleEventRepository,
    private readonly callLogs: CallLogRepository,
    private readonly dispatcher: CallDispatcher,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly publisher: DomainEventPublisher,
    private readonly dialPolicy: DialPolicy,
    private readonly jobs: JobQueueService,
  ) {}

  async dispatchDue(scheduleId: string): Promise<JobOutcome> {
    const now = this.clock.now();
    // The sweeper's read has just brought most due schedules. A remembered copy that says "due now" saves
    // a read: if it is stale, the advance below is refused (its gate and version check read the stored
    // schedule) and the claim is released. A copy that says anything else is read again before it counts.
    let schedule = this.schedules.recalled(scheduleId);
    if (!isDueBy(schedule, now)) schedule = await this.schedules.findById(scheduleId);
    if (!schedule || schedule.status !== 'scheduled' || !schedule.next_execution) return { outcome: 'inactive', nextRunAt: null };
    const occurrence = schedule.next_execution;
    if (occurrence.getTime() > now.getTime() + EARLY_TOLERANCE_MS) return { outcome: 'early', nextRunAt: occurrence };
    // Only a recurring schedule can have several occurrences in flight (SCHEDULER_MAX_INSTANCES).
    if (schedule.repeat_config && (await this.claims.countInFlight(scheduleId)) >= this.config.scheduler.maxInstances) {
      return { outcome: 'deferred_max_instances', nextRunAt: new Date(now.getTime() + 1000) };
    }

    const late = now.getTime() - occurrence.getTime() > this.config.scheduler.misfireGraceSeconds * 1000;
    const recurring = schedule.repeat_config !== null;
    // A misfire collapses every occurrence that came due while nobody ran it into one decision.
    const due = late && recurring ? dueOccurrences(schedule, occurrence, now, MAX_COLLAPSED_OCCURRENCES) : [occurrence];
    const used = schedule.occurrence_count + due.length;
    const next = recurring ? nextWithinBounds(schedule, late ? now : occurrence, used) : null;
    const skip = late && schedule.misfire_policy === 'skip';

    // The claim is keyed by the stored next_execution, which every instance reads alike: whoever wins
    // the insert owns this occurrence (and, on a misfire, every occurrence collapsed into it).
    const runId = randomUUID();
    const claim = await this.claimOccurrence({
      runId,
      scheduleId,
      tenantId: schedule.tenant_id,
      occurrenceAt: occurrence,
      callLogId: skip ? undefined : this.callLogs.newId(),
      state: skip ? 'missed' : 'claimed',
      instance: this.instance,
      now,
      detail: late ? `late by ${Math.round((now.getTime() - occurrence.getTime()) / 1000)} s; ${due.length} occurrence(s)` : undefined,
    });
    // Another instance's: its claimant moves it on, and a claimant that died is settled by the reconciler.
    // No read of where it moved (a scan of call_schedules on FerretDB, for each schedule instances race
    // for in a burst): the sweeper's next poll finds a recurring schedule's next occurrence in time.
    if (!claim.won) return { outcome: 'already_claimed', nextRunAt: null };

    // A one-time schedule reads running from its claim on: its run holds it until the call ends (pending is a
    // schedule waiting for a job: a deferral, a retry, a re-dial).
    const status: ScheduleStatus = recurring ? (next ? 'scheduled' : 'completed') : skip ? 'missed' : 'running';
    // The advance's own events ride in its write (the schedule's outbox): stored before it, never lost after it.
    const events: ScheduleChangeEvent[] = [];
    const occurrences = due.slice(0, 50).map((d) => d.toISOString());
    if (skip) {
      events.push({
        notify: 'schedule.missed',
        notifyData: { occurrence_at: occurrence.toISOString(), count: due.length },
        history: {
          type: 'missed',
          level: 'warn',
          message: `Missed ${due.length} occurrence(s) past the misfire grace time; policy skip dialed nothing`,
          data: { occurrences, count: due.length, late_seconds: Math.round((now.getTime() - occurrence.getTime()) / 1000) },
        },
      });
    } else if (late) {
      events.push({
        notify: null,
        history: {
          type: 'misfire_run_once',
          level: 'warn',
          message: `Late by more than the grace time; policy run_once dials once for ${due.length} occurrence(s)`,
          data: { occurrences, count: due.length },
        },
      });
    }
    if (status === 'completed') events.push({ notify: 'schedule.completed', history: null });
    // The dial policy's read (the do-not-call list's version) goes out beside the advance instead of after
    // it: a round trip less before the dial. A superseded run drops its answer.
    const policy = skip ? null : this.policyCheck(schedule, now);
    const advanced =
      (await this.retry(() => this.schedules.advanceOccurrence(
        scheduleId,
        schedule.version,
        occurrence,
        { next_execution: next, status, last_occurrence_at: due[due.length - 1], last_updated: now },
        due.length,
        { at: now, events },
      ))) || (await this.advancedByThisRun(scheduleId, schedule.version, used, due[due.length - 1], status));
    if (!advanced) {
      // Paused, cancelled or edited since we read it: this run belongs to an old version and dials nothing.
      await this.retry(() => this.claims.releaseUndialed(claim.claim.id));
      const fresh = await this.retry(() => this.schedules.findById(scheduleId));
      return { outcome: 'superseded', nextRunAt: fresh?.status === 'scheduled' ? fresh.next_execution : null };
    }
    const advancedSchedule: Schedule = { ...schedule, next_execution: next, status, occurrence_count: used, last_occurrence_at: due[due.length - 1] };

    if (skip) return { outcome: 'missed', nextRunAt: next };
    await this.placeCall(advancedSchedule, occurrence, claim.claim, 1, occurrence, policy ?? undefined);
    return { outcome: 'dispatched', nextRunAt: next };
  }

  // An outcome retry (retry_policy) of an occurrence whose earlier attempt ended busy, no-answer or failed.
  async dispatchRetry(scheduleId: string, occurrenceAt: Date, attempt: number): Promise<JobOutcome> {
    const schedule = await this.schedules.findById(scheduleId);
    // A paused, cancelled, deleted or finished schedule takes no further attempts. A one-time schedule may
    // still read running: the busy callback can land before the dispatcher recorded the call as placed.
    const open = schedule?.repeat_config ? schedule.status === 'scheduled' : schedule?.status === 'pending' || schedule?.status === 'running';
    if (!schedule || !open) return { outcome: 'inactive', nextRunAt: null };
    const now = this.clock.now();
    const runId = randomUUID();
    const claim = await this.claimOccurrence({ runId, scheduleId, tenantId: schedule.tenant_id, occurrenceAt, attemptNumber: attempt, state: 'claimed', instance: this.instance, now, callLogId: this.callLogs.newId() });
    if (!claim.won) return { outcome: 'already_claimed', nextRunAt: null };
    await this.record(schedule, 'retry_attempt', 'info', `Retry attempt ${attempt} of occurrence ${occurrenceAt.toISOString()}`, {
      occurrence_at: occurrenceAt.toISOString(),
      attempt_number: attempt,
    });
    await this.placeCall(schedule, occurrenceAt, claim.claim, attempt, now);
    return { outcome: 'dispatched', nextRunAt: null };
  }

  // A dial deferred to the callee's calling hours. It is due at the window opening, not at the occurrence,
  // so lateness against the occurrence is no misfire; its own claim keeps it to one dial.
  async dispatchDeferred(scheduleId: string, occurrenceAt: Date, attempt: number, deferral: number, runAt: Date): Promise<JobOutcome> {
    const schedule = await this.schedules.findById(scheduleId);
    // A recurring schedule whose last occurrence this was reads completed; paused or cancelled ones take no dial.
    // A one-time one reads pending: its deferral (or the reconciler's re-dial) wrote that before this job.
    const open = schedule?.repeat_config ? schedule.status === 'scheduled' || schedule.status === 'completed' : schedule?.status === 'pending';
    if (!schedule || !open) return { outcome: 'inactive', nextRunAt: null };
    const now = this.clock.now();
    if (runAt.getTime() > now.getTime() + EARLY_TOLERANCE_MS) return { outcome: 'early', nextRunAt: runAt };
    const runId = randomUUID();
    const claim = await this.claimOccurrence({ runId, scheduleId, tenantId: schedule.tenant_id, occurrenceAt, attemptNumber: attempt, deferral, state: 'claimed', instance: this.instance, now, callLogId: this.callLogs.newId() });
    if (!claim.won) return { outcome: 'already_claimed', nextRunAt: null };
    // Due at run_at (the window opening, or a re-dial's original due time): its misfire grace runs from there.
    await this.placeCall(schedule, occurrenceAt, claim.claim, attempt, runAt);
    return { outcome: 'dispatched', nextRunAt: null };
  }

  private policyCheck(schedule: Schedule, at: Date): PolicyCheck {
    const decision = this.retry(() => this.dialPolicy.check(dialSubjectOf(schedule), at));
    // Awaited by placeCall, or dropped with a superseded run: never an unhandled rejection.
    decision.catch(() => undefined);
    return { at, wall: Date.now(), decision };
  }

  private async placeCall(schedule: Schedule, occurrence: Date, claim: OccurrenceClaim, attempt: number, dueAt: Date, policy?: PolicyCheck): Promise<void> {
    const subject = dialSubjectOf(schedule);
    const { at: checkedAt, wall: checkedAtWall, decision: checked } = policy ?? this.policyCheck(schedule, this.clock.now());
    const decision = await checked;
    if (decision.action === 'skip') return this.skipDial(schedule, occurrence, claim, attempt, decision.reason, decision.detail);
    if (decision.action === 'defer') return this.deferDial(schedule, occurrence, claim, attempt, decision.until, decision.detail, null, { zones: decision.zones, stage: 'before_dial' });
    const now = this.clock.now();
    // Claims stored before claims named their log get one now.
    const logId = claim.call_log_id ?? this.callLogs.newId();
    const log = await this.retry(() => this.callLogs.createForAttempt(
      logId,
      {
        tenant_id: schedule.tenant_id,
        created_by: schedule.created_by,
        user_profile_id: schedule.user_profile_id,
        agent_instance_id: schedule.agent_instance_id,
        schedule_id: schedule.id,
        occurrence_at: occurrence,
        status: 'queued',
        call_type: schedule.call_type,
        phone: schedule.phone,
        timestamp: now,
        notes: schedule.notes,
        metadata: schedule.metadata,
        attempt_number: attempt,
        for_campaign: schedule.campaign_id !== null,
      },
      now,
    ));
    if (!claim.call_log_id) await this.retry(() => this.claims.move(claim.id, 'log_linked', { call_log_id: log.id }, now));

    let givenUp = false;
    let result: PlaceCallResult;
    try {
      result = await this.dispatcher.placeCall({
        ...callRequestOf(schedule, log.id, occurrence, attempt),
        // Past the grace window a call waiting for pacing (or delayed by a database outage) is a misfire,
        // like a late trigger: policy skip gives it up, policy run_once still dials it once.
        startBy: schedule.misfire_policy === 'skip' ? new Date(dueAt.getTime() + this.config.scheduler.misfireGraceSeconds * 1000) : undefined,
        // The dial decision is written only when a request is about to leave: a crash before that is
        // provably undialed. A later request (a retry) takes its own ticket, which the reconciler's fence
        // of a claim it found stuck may hold instead.
        onDialing: async (_provider, ticket) => {
          const dial = ticket === 1 ? await this.decideToDial(claim) : await this.retry(() => this.claims.takeSendTicket(claim.id, ticket, this.instance, this.clock.now()));
          givenUp = !dial;
          return dial;
        },
        // A status callback can reach this attempt's own log (its URL names it) before the lookup does, and
        // attach the call to it: only a call owned by another log is someone else's.
        isKnownCall: (callId) => this.retry(() => this.callLogs.belongsToAnotherLog(callId, log.id)),
        checkBeforeRequest: async (at) => {
          // A request that leaves right after the first check (no pacing wait) is not worth a second read of
          // the do-not-call list: a number listed in that instant races the request either way.
          const soon = at.getTime() - checkedAt.getTime() < RECHECK_AFTER_MS && Date.now() - checkedAtWall < RECHECK_AFTER_MS;
          const verdict = soon ? this.dialPolicy.checkCallingHours(subject, at) : await this.retry(() => this.dialPolicy.check(subject, at));
          if (verdict.action === 'dial') return { kind: 'proceed' };
          if (verdict.action === 'defer') return { kind: 'defer', until: verdict.until, detail: verdict.detail };
          return { kind: 'skip', reason: verdict.reason, detail: verdict.detail };
        },
      });
    } catch (error) {
      // We cannot tell whether the provider acted on the request: never retry blindly.
      result = { kind: 'unknown', provider: 'unknown', detail: error instanceof Error ? error.message : String(error) };
    }
    const done = this.clock.now();
    const ending = (transition: EndingTransition, provider: string | null, code: string | null, detail: string): ClaimEnding =>
      this.endingOf(schedule, claim, occurrence, attempt, log.id, done, { transition, provider, code, detail });

    switch (result.kind) {
      case 'placed': {
        const dispatched = await this.storeDispatched(schedule, claim, log.id, result, done);
        // The call's id goes to the log (recordPlaced): the claim names the log.
        const marked = await this.retry(() => this.claims.move(claim.id, 'placed', { provider: result.provider }, done));
        if (!(await this.ownsOutcome(claim, marked, done))) {
          // Whoever records the rest, the call is this log's: with its id, callbacks and call.reconcile
          // finish it even if the other side stopped before recording it.
          await this.retry(() => this.callLogs.recordPlacedCall(log.id, result.provider, result.callId, done, log.timestamp));
          return;
        }
        const how = result.reconciled ? ' (found by lookup after an unanswered request)' : '';
        return this.recordPlaced({ schedule, claim, logId: log.id, logTimestamp: log.timestamp, lagMs: done.getTime() - dueAt.getTime(), how }, result, done, dispatched);
      }
      case 'rejected':
        return this.endRun(schedule, claim, ending('refused', result.provider, result.code, result.message));
      case 'expired':
        if (givenUp) {
          // The reconciler's give-up won the decision: the claim and the schedule are its to settle (it may
          // dial the occurrence again under a new claim). Only this run's log ends here.
          await this.retry(() => this.callLogs.markAttemptEnded(log.id, 'canceled', { provider: result.provider, error_code: 'given_up', error_message: result.detail }, done));
          return;
        }
        return this.endRun(schedule, claim, ending('expired', result.provider, null, result.detail));
      case 'deferred':
        return this.deferDial(schedule, occurrence, claim, attempt, result.until, result.detail, log.id, { stage: 'before_request' });
      case 'skipped':
        return this.endRun(schedule, claim, ending('skipped', null, result.reason, result.detail));
      case 'unknown':
        return this.endRun(schedule, claim, ending('outcome_unknown', result.provider, null, result.detail));
    }
  }

  // The call.dispatched notification (stream history and webhook deliveries), stored before the claim
  // records the call: once the claim has moved nothing redoes it, and a crash before the move leaves a claim
  // the reconciler looks up and, finding the call, stores the same event under the same key (once). A key,
  // not an id derived from the call: the event's id must be minted when it is stored, because the live
  // stream reads ids in order and looks back only 5 s, and the reconciler's store comes minutes later.
  async storeDispatched(schedule: Schedule, claim: OccurrenceClaim, logId: string, placed: PlacedCall, now: Date): Promise<CallChangedEvent> {
    const event = new CallChangedEvent('call.dispatched', logId, schedule.id, schedule.tenant_id, schedule.phone, 'queued', placed.callId, claim.attempt_number, now.toISOString(), {
      provider: placed.provider,
      occurrence_at: claim.occurrence_at.toISOString(),
      ...(placed.handedOff ? { handed_off: true } : {}),
    });
    await this.retry(() => this.publisher.storeOnce(event, `call_dispatched|${logId}`));
    return event;
  }

  // After the claim is marked dialed (by this run, or by the reconciler that found the call at the
  // provider): the log, the schedule and its event, then the stored call.dispatched is published.
  async recordPlaced(attempt: PlacedAttempt, placed: PlacedCall, now: Date, dispatched: CallChangedEvent): Promise<void> {
    const { schedule, claim, logId, logTimestamp, lagMs, how } = attempt;
    const occurrence = claim.occurrence_at;
    const attemptNumber = claim.attempt_number;
    // The event at the time the call was placed, written with the record of the log's call and before the schedule
    // moves: the call's callbacks (as soon as tens of ms later) end the schedule and record call_final
    // after it, so a reader that sees the schedule ended also finds it dispatched, in order.
    await Promise.all([
      this.retry(() => this.callLogs.recordPlacedCall(logId, placed.provider, placed.callId, now, logTimestamp)),
      this.retry(() =>
        this.events.appendFor(schedule, now, 'info', 'dispatched', `Call placed via ${placed.provider}${how}`, {
          occurrence_at: occurrence.toISOString(),
          call_id: placed.callId,
          call_log_id: logId,
          attempt_number: attemptNumber,
          ...(claim.deferral > 0 ? { deferral: claim.deferral } : {}),
          lag_ms: lagMs,
          reconciled: placed.reconciled === true,
        }),
      ),
    ]);
    // The claim's advance already moved the schedule (a one-time one to running), so the dial writes it no
    // second time: the call's id reaches it with the call's outcome (ScheduleOutcomeService), and the log
    // names it meanwhile. Only a one-time schedule that waited for this run's job (a deferral or a retry)
    // reads pending, and goes running here; only from pending, as a fast final callback may already have
    // ended it.
    if (!schedule.repeat_config && schedule.status === 'pending') {
      if (!(await this.retry(() => this.schedules.recordCallProgress(schedule.id, ['pending'], { status: 'running', call_id: placed.callId, last_updated: now })))) {
        await this.retry(() => this.schedules.recordCallProgress(schedule.id, null, { call_id: placed.callId }));
      }
    }
    // A hand-off ends the attempt; the status-update module records it like a final callback.
    this.publisher.publish(dispatched);
  }

  // A rule (safe mode, DNC) forbids this dial before the call log is written: nothing reaches a provider.
  private skipDial(schedule: Schedule, occurrence: Date, claim: OccurrenceClaim, attempt: number, reason: string, detail: string): Promise<void> {
    return this.endRun(schedule, claim, this.endingOf(schedule, claim, occurrence, attempt, null, this.clock.now(), { transition: 'skipped', provider: null, code: reason, detail }));
  }

  // Outside the callee's calling hours: this run dials nothing and a call.deferred job dials at the opening
  // under claim deferral+1. The job is written before the claim changes: a crash in between leaves a
  // claim the reconciler closes and a job that still dials, never a deferral without its job.
  private async deferDial(
    schedule: Schedule,
    occurrence: Date,
    claim: OccurrenceClaim,
    attempt: number,
    until: Date,
    detail: string,
    callLogId: string | null,
    extra: Record<string, unknown>,
  ): Promise<void> {
    const now = this.clock.now();
    const payload: CallDeferredPayload = {
      schedule_id: schedule.id,
      occurrence_at: occurrence.toISOString(),
      attempt_number: attempt,
      deferral: claim.deferral + 1,
      run_at: until.toISOString(),
    };
    // A one-time schedule waits for that job: pending, written before the job so that the job's run never
    // finds it still running (and the deferral's ending, written after, changes no status). A crash before
    // the job leaves a claim the reconciler settles like any other stopped run.
    await this.retry(() => this.schedules.awaitDialJob(schedule, now));
    await this.retry(() => this.jobs.createJob(CALL_DEFERRED_JOB, payload, until));
    await this.endRun(
      schedule,
      claim,
      this.endingOf(schedule, claim, occurrence, attempt, callLogId, now, { transition: 'deferred', provider: null, code: null, detail, extra: { deferral: payload.deferral, until: payload.run_at, ...extra } }),
    );
  }

  private endingOf(
    schedule: Schedule,
    claim: OccurrenceClaim,
    occurrence: Date,
    attempt: number,
    callLogId: string | null,
    at: Date,
    how: Pick<ClaimEnding, 'transition' | 'provider' | 'code' | 'detail'> & { extra?: Record<string, unknown> },
  ): ClaimEnding {
    return {
      claim_id: claim.id,
      schedule_id: schedule.id,
      tenant_id: schedule.tenant_id,
      phone: schedule.phone,
      call_log_id: callLogId,
      occurrence_at: occurrence,
      attempt_number: attempt,
      at,
      by: this.instance,
      ...how,
      extra: how.extra ?? null,
    };
  }

  // A run that places no call ends here. Its ending is stored before the claim moves, and deleted once
  // the rest is written: a run that stops after the move leaves it to the reconcile pass
  // (finishStoppedEndings), which writes the rest as this run would have.
  private async endRun(schedule: Schedule, claim: OccurrenceClaim, ending: ClaimEnding): Promise<void> {
    await this.retry(() => this.claims.openEnding(ending));
    const moved = await this.retry(() => this.claims.move(claim.id, ending.transition, claimChangeOf(ending), ending.at));
    const share = moved ? 'all' : await this.shareAfterRefusedMove(ending, () => this.retry(() => this.claims.takeOutcome(claim.id, this.instance, ending.at)));
    if (await this.finishEnding(ending, schedule, share, 'run')) await this.retry(() => this.claims.closeEnding(claim.id));
  }

  // What a run still records when its claim move was refused: the reconciler ended the claim first (the
  // run stalled that long), or this is a retry of the run's own write.
  private async shareAfterRefusedMove(ending: ClaimEnding, takeOutcome: () => Promise<boolean>): Promise<EndingShare> {
    switch (ending.transition) {
      // The reconciler could only call it unknown: the run's outcome is better, when it takes it.
      case 'refused':
      case 'outcome_unknown':
        return (await takeOutcome()) ? 'all' : 'none';
      // The reconciler gave the claim up and records the miss itself.
      case 'expired':
        return 'log';
      // A rule forbade the dial, or deferred it: that holds whoever ended the claim.
      default:
        return 'all';
    }
  }

  // The rest of a run that placed no call: its log, its history entry and its schedule (an ending's
  // history entry before the schedule's end, so that a reader who sees the end finds why; a progress
  // mark, unknown or deferred, before its entry, as it always was), then its call event.
  // Written by the run itself, or by the pass once the run stopped (`by`). The two never write it at the
  // same time: the run hands the rest over once half of SCHEDULER_UNKNOWN_CLAIM_AFTER_SECONDS has passed
  // since its ending (a long database outage; it then returns false and leaves its ending), and the pass
  // takes only endings older than all of it. Each step can be repeated by the pass: the log moves only
  // from `queued` (a call whose own reports moved it on owns the rest), the history entry and the event
  // are stored under keys of the claim, a one-time schedule ends only from pending or running, and an
  // unconditional schedule write is left out when the schedule was written since (writtenSince).
  private async finishEnding(e: ClaimEnding, schedule: Schedule | null, share: EndingShare, by: 'run' | 'pass'): Promise<boolean> {
    if (share === 'none') return true;
    const handOverAt = e.at.getTime() + (this.config.scheduler.unknownClaimAfterSeconds * 1000) / 2;
    const mine = () => by === 'pass' || this.clock.now().getTime() < handOverAt;
    const log = LOG_ENDINGS[e.transition](e);
    if (e.call_log_id) {
      if (!mine()) return false;
      const reads = await this.retry(() => this.callLogs.markAttemptEnded(e.call_log_id!, log.status, log.fields, e.at, by === 'pass' ? ['queued'] : undefined));
      if (!reads) return true;
    }
    if (share === 'log') return true;
    const occurrence_at = e.occurrence_at.toISOString();
    const history = async (level: EventLevel, type: string, message: string, data: Record<string, unknown>) => {
      if (!mine()) return false;
      await this.retry(() => this.events.appendOnce({ id: e.schedule_id, tenant_id: e.tenant_id }, `ended|${e.claim_id}`, e.at, level, type, message, data));
      return true;
    };
    const progress = async (set: AttemptEndOnSchedule, events: ScheduleChangeEvent[] = [], oneTimeEvents: ScheduleChangeEvent[] = []) => {
      if (!mine()) return false;
      const ends = set.status !== undefined && schedule !== null && !schedule.repeat_config;
      if (schedule && !(by === 'pass' && !ends && writtenSince(schedule, e, set))) await this.recordEnd(schedule, set, e.at, events, oneTimeEvents);
      return true;
    };
    const callEvent = async (type: CallChangedEvent['type'], status: string, callLogId: string, data: Record<string, unknown>) => {
      if (!mine()) return false;
      const event = new CallChangedEvent(type, callLogId, e.schedule_id, e.tenant_id, e.phone, status, null, e.attempt_number, e.at.toISOString(), data);
      await this.retry(() => this.publisher.storeOnce(event, `call_ended|${e.claim_id}`));
      this.publisher.publish(event);
      return true;
    };
    switch (e.transition) {
      case 'refused': {
        // The history entry first: whoever reads the schedule failed finds why in it.
        const lastError = `${e.code}: ${e.detail}`.slice(0, 500);
        return (
          (await history('error', 'dispatch_failed', `Provider refused the call: ${e.code} ${e.detail}`, { occurrence_at, call_log_id: e.call_log_id, attempt_number: e.attempt_number, error_code: e.code })) &&
          (await progress({ status: 'failed', last_call_status: 'failed', last_error: lastError }, [], [{ notify: 'schedule.failed', notifyData: { last_error: lastError }, history: null }])) &&
          callEvent('call.failed', 'failed', e.call_log_id ?? '', { error_code: e.code, error_message: e.detail })
        );
      }
      case 'expired':
        return (
          (await history('warn', 'missed', `Not dialed: ${e.detail}`, { occurrence_at, call_log_id: e.call_log_id, attempt_number: e.attempt_number })) &&
          progress({ status: 'missed', last_call_status: 'missed' }, [{ notify: 'schedule.missed', notifyData: { occurrence_at, reason: 'start_window_passed' }, history: null }])
        );
      case 'outcome_unknown':
        if (by === 'run') this.logger.warn(`schedule ${e.schedule_id} occurrence ${occurrence_at}: unknown dial outcome: ${e.detail}`);
        return (
          (await progress({ last_call_status: 'unknown' })) &&
          (await history('warn', 'dispatch_unknown', `Outcome of the dial is unknown; it will be reconciled, not redialed: ${e.detail}`, { occurrence_at, call_log_id: e.call_log_id, attempt_number: e.attempt_number })) &&
          callEvent('call.unknown', 'unknown', e.call_log_id ?? '', { detail: e.detail })
        );
      case 'skipped':
        return (
          (await history('warn', `skipped_${e.code}`, `Call skipped (${e.code}): ${e.detail}`, { occurrence_at, attempt_number: e.attempt_number, reason: e.code })) &&
          (await progress({ status: 'completed', last_call_status: `skipped_${e.code}` })) &&
          callEvent('call.skipped', 'skipped', '', { reason: e.code, detail: e.detail, occurrence_at })
        );
      case 'deferred':
        return (
          (await progress({ last_call_status: 'deferred_calling_hours' })) &&
          history('info', 'deferred_calling_hours', `Deferred to the callee's calling hours: ${e.detail}`, { occurrence_at, attempt_number: e.attempt_number, ...e.extra })
        );
    }
  }

  // Endings whose run stopped after its claim moved: the rest is written as the run would have, once.
  // Only a run that got past its move is finished here: the claim made the ending's move, or the
  // reconciler moved it first and the run then took the outcome. An ending whose claim is still in flight
  // is left (the run may yet move it); one whose claim the reconciler ended otherwise is dropped, with
  // the claim's end left as the reconciler wrote it (a run that stopped before its move is the
  // stuck-claim pass's). One that fails is logged and tried again by the next pass.
  async finishStoppedEndings(limit: number, deadline: number): Promise<number> {
    const now = this.clock.now();
    const before = new Date(now.getTime() - this.config.scheduler.unknownClaimAfterSeconds * 1000);
    let finished = 0;
    for (const ending of await this.claims.endingsOpenedBefore(before, limit)) {
      if (Date.now() > deadline) break;
      try {
        const claim = await this.claims.findById(ending.claim_id);
        if (claim && IN_FLIGHT_CLAIM_STATES.includes(claim.state)) continue;
        const ranPastItsMove =
          claim !== null &&
          (claim.transition === ending.transition ||
            ((ending.transition === 'refused' || ending.transition === 'outcome_unknown') && (await this.claims.outcomeTakenBy(claim.id)) === ending.by));
        if (ranPastItsMove) {
          await this.finishEnding(ending, await this.schedules.findById(ending.schedule_id), 'all', 'pass');
          finished++;
        }
        await this.claims.closeEnding(ending.claim_id);
      } catch (error) {
        this.logger.warn(`ending of claim ${ending.claim_id} not finished: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return finished;
  }

  // The reconciler may have given this claim up (it looked stuck): the unique decision insert settles who
  // wins, so a claim recorded missed never rings a phone. The decision record is what says "dialing": the
  // claim itself stays `claimed` until the dial's outcome (a reconciler that finds it stuck asks the same
  // decision and gets `dial`, so it never records it missed: it looks the call up at the provider).
  private async decideToDial(claim: OccurrenceClaim): Promise<boolean> {
    const now = this.clock.now();
    return (await this.retry(() => this.claims.decide(claim.id, 'dial', this.instance, now))).decision === 'dial';
  }

  // Whether this run records its outcome (log, schedule, event). A claim this run could not move was ended
  // by the reconciler (this run stalled that long) or is a retry of this run's own write. The reconciler
  // takes the outcome before it records a call it found, and then this run records nothing; a claim the
  // reconciler could only call unknown still gets this run's outcome.
  private async ownsOutcome(claim: OccurrenceClaim, marked: boolean, now: Date): Promise<boolean> {
    return marked || this.retry(() => this.claims.takeOutcome(claim.id, this.instance, now));
  }

  // advanceOccurrence reported no change: either the schedule changed under this run, or this run's own
  // update was applied and its reply lost to a connection error before the retry.
  private async advancedByThisRun(scheduleId: string, version: number, used: number, lastOccurrence: Date, status: ScheduleStatus): Promise<boolean> {
    const fresh = await this.retry(() => this.schedules.findById(scheduleId));
    return (
      fresh !== null &&
      fresh.version === version &&
      fresh.occurrence_count === used &&
      fresh.status === status &&
      fresh.last_occurrence_at?.getTime() === lastOccurrence.getTime()
    );
  }

  // Records how an attempt ended on its schedule; a one-time schedule also ends with it (`status`, only
  // from pending or running, so a repeat changes nothing). `events` ride in the schedule's write (its
  // outbox); `oneTimeEvents` only when a one-time schedule ends.
  private async recordEnd(schedule: Schedule, set: AttemptEndOnSchedule, now: Date, events: ScheduleChangeEvent[], oneTimeEvents: ScheduleChangeEvent[]): Promise<void> {
    const { status, ...rest } = set;
    const ends = status !== undefined && !schedule.repeat_config;
    await this.retry(() =>
      this.schedules.recordCallProgress(schedule.id, ends ? ['pending', 'running'] : null, { ...(ends ? { status } : {}), ...rest, last_updated: now }, { at: now, events: ends ? [...events, ...oneTimeEvents] : events }),
    );
  }

  // After the claim this run owns the occurrence, so a write that lost the database lock or its connection
  // is tried again rather than abandoning an occurrence nobody else will pick up. Every write retried here
  // is conditional or keyed, so a repeat of one that was applied changes nothing.
  private retry<T>(write: () => Promise<T>): Promise<T> {
    return retryTransient(write);
  }

  // The claim insert, repeated through an outage; every attempt after the first is a repeat, which may meet
  // its own earlier insert.
  private claimOccurrence(input: Omit<ClaimOccurrenceInput, 'repeat'>): Promise<ClaimResult> {
    let repeat = false;
    return this.retry(() => {
      const attempt = this.claims.claimOccurrence({ ...input, repeat });
      repeat = true;
      return attempt;
    });
  }

  private async record(schedule: Schedule, type: string, level: EventLevel, message: string, data: Record<string, unknown>): Promise<void> {
    await this.retry(() => this.events.appendFor(schedule, this.clock.now(), level, type, message, data));
  }
}
