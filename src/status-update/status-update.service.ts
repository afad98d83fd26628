import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { retryOnLockContention } from '../common/mongo/mongo-query';
import { AppException } from '../common/errors/app.exception';
import { AppConfig } from '../config/app-config';
import { DomainEventPublisher } from '../notification/domain-event.publisher';
import { CallChangedEvent, CallEventName } from '../notification/domain-events';
import { ScheduleOutcomeService } from '../schedule/schedule-outcome.service';
import { CallLogProgress, CallLogRepository } from '../tracking/call-log.repository';
import { CallLog } from '../tracking/call-log.types';
import { advancesTo, CallStatus, isFinalCallStatus } from '../tracking/call-status';
import { CallStatusReceiptRepository } from './call-status-receipt.repository';
import { ConcurrencyLimit } from '../common/concurrency-limit';
import { KeyedSerializer } from './keyed-serializer';
import type { CallStatusReport } from '../calls/call-status-report';
import { CallStatusInbox } from '../calls/call-status-inbox';

export type CallbackOutcome = 'applied' | 'duplicate' | 'unknown_call';

export const CALLBACK_SOURCE = 'twilio_callback';
// An agent backend accepted the call (the attempt ends completed), and what the backend reported later.
export const AGENT_HANDOFF_SOURCE = 'agent_backend_handoff';
export const AGENT_CALLBACK_SOURCE = 'agent_backend_callback';
// The simulated provider's reports, handed in within this process.
export const SIMULATOR_SOURCE = 'simulator';
// Twilio abandons a callback request after 15 s: a receipt older than that whose entry never reached the
// log belongs to a delivery that died (its instance was killed) between the two writes.
const ABANDONED_DELIVERY_MS = 15_000;

// Twilio itself does not retry a 5xx, but its connection-override retries and our own redeliveries do; the
// copy that is still running applies the callback either way.
export class CallbackDeliveryInProgressException extends AppException {
  constructor() {
    super('WEBHOOK_003', { field: 'CallSid', issue: 'An earlier delivery of this callback is still being applied; retry later' });
  }
}

const progressOf = (log: CallLog): CallLogProgress => ({ duration: log.duration, answered_by: log.answered_by, error_code: log.error_code });

const EVENT_FOR: Partial<Record<CallStatus, CallEventName>> = {
  ringing: 'call.ringing',
  in_progress: 'call.answered',
  completed: 'call.completed',
  busy: 'call.busy',
  no_answer: 'call.no_answer',
  failed: 'call.failed',
  canceled: 'call.failed',
};

@Injectable()
export class StatusUpdateService implements OnModuleInit {
  private readonly logger = new Logger(StatusUpdateService.name);
  private readonly perCall = new KeyedSerializer();
  private readonly dbWork: ConcurrencyLimit;

  constructor(
    private readonly callLogs: CallLogRepository,
    private readonly receipts: CallStatusReceiptRepository,
    private readonly outcomes: ScheduleOutcomeService,
    private readonly clock: Clock,
    private readonly publisher: DomainEventPublisher,
    private readonly inbox: CallStatusInbox,
    config: AppConfig,
  ) {
    this.dbWork = new ConcurrencyLimit(config.statusCallbackConcurrency);
  }

  onModuleInit(): void {
    this.inbox.attach((report, callLogId) => this.applyReport(report, callLogId, SIMULATOR_SOURCE));
  }

  // A callback that lost the database lock is applied again here: its receipt was withdrawn, so the retry
  // is a first delivery, and Twilio does not retry a 5xx on its own.
  //
  // Callbacks of one call are applied one at a time: FerretDB (SQLite) runs an update as read, modify,
  // write without isolation, so concurrent updates of one log lose each other's timeline entries.
  // A provider's report (see CallStatusReport), translated from its wire format by its adapter.
  applyReport(report: CallStatusReport, callLogId?: string, source = CALLBACK_SOURCE): Promise<CallbackOutcome> {
    return this.perCall.run(report.callId, () => this.dbWork.run(() => retryOnLockContention(() => this.applyOnce(report, callLogId, source))));
  }

  private async applyOnce(report: CallStatusReport, callLogId: string | undefined, source: string): Promise<CallbackOutcome> {
    const now = this.clock.now();
    const callSid = report.callId;
    const found = await this.findLog(callSid, callLogId);
    if (!found) {
      this.logger.warn(`status report for unknown call ${callSid} (${report.providerStatus}); nothing recorded`);
      return 'unknown_call';
    }
    const log = found.log;
    // Whether `current` is findLog's remembered copy rather than a read.
    let remembered = found.remembered;
    // The backend's own report of a status is not a repeat of the hand-off that recorded the same status,
    // and a Twilio-form callback of a simulated call (signed with SIMULATOR_SIGNING_TOKEN) is not a repeat
    // of the simulator's own report with the same sequence number.
    const receiptScope = source === AGENT_CALLBACK_SOURCE || source === SIMULATOR_SOURCE ? `${source}:` : '';
    const dedupeKey = `${receiptScope}${report.sequence !== null ? `seq:${report.sequence}` : `status:${report.providerStatus}`}`;
    const status = report.status;
    const sequenceNumber = report.sequence;
    // Every delivery that was applied left this entry, moving the status or not.
    const inTimeline = (l: CallLog) => l.timeline.some((e) => e.source === source && e.status === status && e.sequence_number === sequenceNumber);
    let current = log;
    if (!(await this.receipts.recordFirstDelivery(callSid, dedupeKey, now))) {
      // A redelivery decides on what the log says now, not on a remembered copy.
      if (remembered) current = (await this.callLogs.findById(log.id)) ?? log;
      remembered = false;
      if (inTimeline(current)) {
        // The receipt stays when a delivery is cut off after the log write (instance killed, database gone
        // before the receipt could be withdrawn): the redelivery still finishes the schedule outcome.
        if (!this.outcomeLeftUndone(current, status)) return 'duplicate';
        const duration = report.duration ?? current.duration;
        await this.afterTransition(current, status, callSid, { duration, answered_by: current.answered_by, error_code: current.error_code });
        return 'applied';
      }
      // A receipt without its entry: the first delivery is being applied on another instance right now, or
      // it was cut off between the receipt and the log write and this copy is all that is left of it.
      const receivedAt = await this.receipts.receivedAt(callSid, dedupeKey);
      if (receivedAt && now.getTime() - receivedAt.getTime() < ABANDONED_DELIVERY_MS) throw new CallbackDeliveryInProgressException();
      await this.receipts.renewDelivery(callSid, dedupeKey, now);
      current = (await this.callLogs.findById(log.id)) ?? current;
      if (inTimeline(current)) return 'duplicate';
      this.logger.warn(`report ${callSid} ${report.providerStatus} (${dedupeKey}) was received before but never applied; applying this delivery`);
    }

    try {
      const ts = report.at ?? now;
      const progress: CallLogProgress = { call_id: callSid };
      if (status === 'in_progress') progress.start_time = ts;
      if (isFinalCallStatus(status)) {
        progress.end_time = ts;
        progress.duration = report.duration;
      }
      if (report.answeredBy) progress.answered_by = report.answeredBy;
      if (report.errorCode) progress.error_code = report.errorCode;
      if (report.errorMessage) progress.error_message = report.errorMessage;

      // This very callback is already in the timeline when an earlier delivery was applied but failed
      // afterwards (its receipt was withdrawn): the transition is not repeated, only what it left undone.
      if (remembered && inTimeline(current)) current = (await this.callLogs.findById(current.id)) ?? current;
      const alreadyApplied = inTimeline(current);
      // A progress event (ringing, answered) is stored before the log write that moves the call: nothing
      // redoes a progress report's side effects once its entry is in the timeline (a redelivery is a
      // duplicate then), so an event stored after the write would be lost to a crash in between.
      const progressEvent = !alreadyApplied && !isFinalCallStatus(status) && advancesTo(current.status, status) ? this.callEventOf(current, status, callSid, progress) : null;
      if (progressEvent) await this.publisher.storeOnce(progressEvent, `call_progress|${current.id}|${status}`);
      const moved =
        !alreadyApplied &&
        (await this.callLogs.applyStatusEvent(
          current.id,
          { status, ts, received_at: now, sequence_number: sequenceNumber, source, provider_status: report.providerStatus },
          progress,
          now,
        ));
      // The log as this report's write left it (the gate proved that write current): what the outcome
      // reads of it (whether it was recorded already) is never a remembered copy's.
      if (moved) current = this.callLogs.recalled(current.id) ?? current;
      if (moved || (alreadyApplied && this.outcomeLeftUndone(current, status))) await this.afterTransition(current, status, callSid, progress, progressEvent);
      // Another instance moved the call past it meanwhile: the event is stored (the call did ring), so its
      // deliveries go out either way.
      else if (progressEvent) this.publishAfterResponse(progressEvent);
      return 'applied';
    } catch (error) {
      // Let a redelivery try again: the receipt only stands for a callback that was applied.
      await this.receipts.forgetDelivery(callSid, dedupeKey).catch(() => undefined);
      throw error;
    }
  }

  // The log reached this final status but its schedule never heard of it.
  private outcomeLeftUndone(log: CallLog, status: CallStatus): boolean {
    return log.status === status && isFinalCallStatus(status) && !!log.schedule_id && !log.outcome_recorded_at;
  }

  // The outcome sweep: a final call whose schedule outcome was never recorded gets it with the
  // callback's side effects (its event was never published either); one whose recorded outcome a racing
  // dispatcher write undid gets the outcome again, without a second event.
  async settleFinalCall(log: CallLog): Promise<void> {
    if (!isFinalCallStatus(log.status) || !log.schedule_id) return;
    await this.perCall.run(log.call_id ?? log.id, async () => {
      // Read again inside the call's turn: a callback or another pass may have just recorded it.
      const current = (await this.callLogs.findById(log.id)) ?? log;
      if (current.outcome_recorded_at) await this.recordOutcome(current, current.status, current.call_id, progressOf(current));
      else await this.afterTransition(current, current.status, current.call_id, progressOf(current));
    });
  }

  // A final call whose schedule has moved on to a later attempt (its retry was scheduled and taken): the
  // outcome needs no redo, but a crash before the mark may have cut off its notification, which is stored
  // (once, by its key) and published before the mark.
  async settleSupersededCall(log: CallLog): Promise<void> {
    await this.perCall.run(log.call_id ?? log.id, async () => {
      const current = (await this.callLogs.findById(log.id)) ?? log;
      if (current.outcome_recorded_at) return;
      const event = this.callEventOf(current, current.status, current.call_id, progressOf(current));
      await this.markOutcomeRecorded(current, event);
      if (event) this.publishAfterResponse(event);
    });
  }

  // A dial of unknown outcome that no callback resolved in time: its schedule takes the outcome `unknown`
  // (a one-time schedule fails; nothing is redialed). Skipped if a callback moved the log meanwhile.
  async settleUnknownCall(log: CallLog): Promise<boolean> {
    const scheduleId = log.schedule_id;
    if (!scheduleId) return false;
    return this.perCall.run(log.call_id ?? log.id, async () => {
      const current = await this.callLogs.findById(log.id);
      if (!current || current.status !== 'unknown' || current.outcome_recorded_at) return false;
      await retryOnLockContention(() => this.outcomes.recordFinalCallStatus({ scheduleId, callLogId: log.id, callId: null, status: 'unknown', duration: null }));
      await retryOnLockContention(() => this.callLogs.markOutcomeRecorded(log.id, this.clock.now()));
      return true;
    });
  }

  // The side effects of a status change, for the request that moved it (a progress event stored before a
  // write that another instance overtook is only published). The schedule's outcome is database state, so
  // it is durable before the 2xx; it gets its own lock retry so that contention there never replays the
  // (already applied) log transition.
  private async afterTransition(log: CallLog, status: CallStatus, callId: string | null, progress: CallLogProgress, stored: CallChangedEvent | null = null): Promise<void> {
    const event = stored ?? this.callEventOf(log, status, callId, progress);
    await this.recordOutcome(log, status, callId, progress, event);
    if (event) this.publishAfterResponse(event);
  }

  private callEventOf(log: CallLog, status: CallStatus, callId: string | null, progress: CallLogProgress): CallChangedEvent | null {
    const name = EVENT_FOR[status];
    if (!name) return null;
    return new CallChangedEvent(
      name,
      log.id,
      log.schedule_id,
      log.tenant_id,
      log.phone,
      status,
      callId,
      log.attempt_number,
      this.clock.now().toISOString(),
      { duration: progress.duration ?? null, answered_by: progress.answered_by ?? null, error_code: progress.error_code ?? null },
      log.for_campaign ?? null,
    );
  }

  // A final status's event is stored (stream and webhook deliveries) before the outcome is marked recorded:
  // a crash before the mark has the outcome sweep redo both, and the event's key keeps the redo from
  // storing or delivering it twice. Marked, the outcome and its notification are both durable.
  private async recordOutcome(log: CallLog, status: CallStatus, callId: string | null, progress: CallLogProgress, event: CallChangedEvent | null = null): Promise<void> {
    const scheduleId = log.schedule_id;
    if (!isFinalCallStatus(status) || !scheduleId) return;
    await retryOnLockContention(() => this.outcomes.recordFinalCallStatus({ scheduleId, callLogId: log.id, callId, status, duration: progress.duration ?? null, announced: !!log.outcome_recorded_at }));
    if (!log.outcome_recorded_at) await this.markOutcomeRecorded(log, event);
  }

  // The mark that ends a final call's outcome, with the event it notifies stored first.
  private async markOutcomeRecorded(log: CallLog, event: CallChangedEvent | null): Promise<void> {
    if (event) await this.publisher.storeOnce(event, `call_final|${log.id}`);
    await retryOnLockContention(() => this.callLogs.markOutcomeRecorded(log.id, this.clock.now()));
  }

  // Subscribers (notifications, webhooks out) may be slow or synchronous; Twilio waits for our answer
  // and gives up after 15 s, so they run after the response has been written.
  private publishAfterResponse(event: CallChangedEvent): void {
    setImmediate(() => this.publisher.publish(event));
  }

  // Our callback URL carries the log id: a primary-key lookup, and it works even when the callback beats
  // the dispatcher's record of the CallSid. Without it (or for a foreign id) the CallSid decides.
  // A copy this process remembers of the same call's log (its earlier callback, or the dispatch that recorded
  // the call) saves the read: what the report changes goes through the log's write gate, which refuses a
  // stale copy and reads afresh, and a redelivery re-reads before it decides anything on the copy.
  private async findLog(callSid: string, callLogId?: string): Promise<{ log: CallLog; remembered: boolean } | null> {
    if (callLogId) {
      const copy = this.callLogs.recalled(callLogId);
      if (copy?.call_id === callSid) return { log: copy, remembered: true };
      const byId = await this.callLogs.findById(callLogId);
      if (byId && (byId.call_id === null || byId.call_id === callSid)) return { log: byId, remembered: false };
    }
    const bySid = await this.callLogs.findByCallId(callSid);
    return bySid ? { log: bySid, remembered: false } : null;
  }
}
