import { Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { CallProviderRegistry } from '../calls/call-provider.registry';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { CALL_PROVIDERS, CallProviderName } from '../config/environment.schema';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { ScheduleOutcomeService } from '../schedule/schedule-outcome.service';
import { CallLogRepository } from '../tracking/call-log.repository';
import { CallLog } from '../tracking/call-log.types';
import { isFinalCallStatus } from '../tracking/call-status';
import { CallStatusReceiptRepository } from './call-status-receipt.repository';
import { AGENT_CALLBACK_SOURCE, AGENT_HANDOFF_SOURCE, CALLBACK_SOURCE, SIMULATOR_SOURCE, StatusUpdateService } from './status-update.service';

export const CALL_RECONCILE_JOB = 'call.reconcile';
const CALL_RECONCILE_EVERY = '30 seconds';
const BATCH = 100;
// A final call's outcome is written right after its log within one request, well inside Twilio's 15 s
// answer timeout: one older than this with its schedule still open was cut off, not in progress.
const OUTCOME_GRACE_MS = 30_000;
const RUNNING_PAGES = 10;
// Within the job's 60 s lock: a pass that cannot finish (a slow database or provider) stops in time, and the
// next pass goes on from what is still open, instead of being cancelled and redone from the start.
const PASS_BUDGET_MS = 40_000;
// Receipts older than CALLBACK_RECEIPT_RETENTION_DAYS go at most this often: on the stand-in database the
// delete is a scan of every receipt.
const RECEIPT_PRUNE_EVERY_MS = 3_600_000;

const LOOKUP_SOURCE = 'provider_lookup';
const PROVIDER_SOURCES = [CALLBACK_SOURCE, LOOKUP_SOURCE, AGENT_HANDOFF_SOURCE, AGENT_CALLBACK_SOURCE, SIMULATOR_SOURCE];

// The final status came from the provider (a callback or a lookup), which is what owes the schedule an outcome.
function finalFromProvider(log: CallLog): boolean {
  return !!log.call_id && log.timeline.some((e) => e.status === log.status && PROVIDER_SOURCES.includes(e.source));
}

// Cluster-wide (one Agenda job): calls still not final CALL_RECONCILE_AFTER_MINUTES after their last
// update (a lost callback, a webhook outage) are fetched from their provider, and a final status found
// there is applied like a callback, with the same dedupe and side effects.
@Injectable()
export class CallReconcileJob implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(CallReconcileJob.name);
  private receiptsPrunedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly jobs: JobQueueService,
    private readonly callLogs: CallLogRepository,
    private readonly outcomes: ScheduleOutcomeService,
    private readonly providers: CallProviderRegistry,
    private readonly statusUpdates: StatusUpdateService,
    private readonly receipts: CallStatusReceiptRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    // A short lock: a pass cut off by a crash must not stop reconciliation for the default lifetime.
    this.jobs.define(CALL_RECONCILE_JOB, () => this.handle(), { concurrency: 1, lockLifetimeMs: 60_000 });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.scheduler.enabled) await this.jobs.every(CALL_RECONCILE_EVERY, CALL_RECONCILE_JOB);
  }

  async handle(): Promise<JobOutcome> {
    const before = new Date(this.clock.now().getTime() - this.config.callReconcileAfterMinutes * 60_000);
    const stale = await this.callLogs.findStaleInFlight(before, BATCH);
    const deadline = Date.now() + PASS_BUDGET_MS;
    let applied = 0;
    for (const log of stale) {
      if (Date.now() > deadline) break;
      if (!log.call_id || !CALL_PROVIDERS.includes(log.provider as CallProviderName)) continue;
      try {
        const state = await this.providers.get(log.provider as CallProviderName).fetchCall(log.call_id);
        // A call still running at the provider is asked about again on a later tick.
        if (!state?.status || !isFinalCallStatus(state.status)) continue;
        const outcome = await this.statusUpdates.applyReport(
          {
            callId: state.callId,
            status: state.status,
            providerStatus: state.providerStatus,
            sequence: null,
            at: state.endTime,
            duration: state.duration,
            answeredBy: state.answeredBy,
            errorCode: null,
            errorMessage: null,
          },
          log.id,
          LOOKUP_SOURCE,
        );
        if (outcome === 'applied') applied++;
      } catch (error) {
        this.logger.warn(`could not reconcile call ${log.call_id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const settled = await this.settleOutcomes(deadline);
    const unknown = await this.settleUnknownDials(deadline);
    const receipts = await this.pruneReceipts();
    return { outcome: `${settled} unknown_settled=${unknown} stale=${stale.length} applied=${applied}${receipts === null ? '' : ` receipts_deleted=${receipts}`}` };
  }

  // null when not due this pass, or when the delete failed (it is tried again on the next pass).
  private async pruneReceipts(): Promise<number | null> {
    const now = this.clock.now().getTime();
    if (now - this.receiptsPrunedAt < RECEIPT_PRUNE_EVERY_MS) return null;
    try {
      const deleted = await this.receipts.deleteReceivedBefore(new Date(now - this.config.operations.callbackReceiptRetentionDays * 86_400_000));
      this.receiptsPrunedAt = now;
      return deleted;
    } catch (error) {
      this.logger.warn(`could not delete old callback receipts: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  }

  // Until this, an `unknown` dial holds its schedule (and a campaign contact) open: a late callback would
  // still tell what happened. After it, no callback will come; the outcome is recorded as unknown.
  private async settleUnknownDials(deadline: number): Promise<number> {
    const before = new Date(this.clock.now().getTime() - this.config.callUnknownSettleAfterMinutes * 60_000);
    const unknowns = await this.callLogs.findUnknownWithoutOutcome(before, BATCH);
    const latestOf = await this.callLogs.latestForSchedules(unknowns.map((l) => l.schedule_id).filter((id): id is string => id !== null));
    let settled = 0;
    for (const log of unknowns) {
      if (Date.now() > deadline) break;
      try {
        const latest = log.schedule_id ? latestOf.get(log.schedule_id) : undefined;
        // A later attempt exists (a recurring schedule's next occurrence): the schedule has moved on.
        if (latest && latest.id !== log.id) await this.callLogs.markOutcomeRecorded(log.id, this.clock.now());
        else if (await this.statusUpdates.settleUnknownCall(log)) settled++;
      } catch (error) {
        this.logger.warn(`could not settle the unknown dial of call log ${log.id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return settled;
  }

  // Schedule outcomes the callback path left undone: a final call whose outcome was never recorded (its
  // delivery cut off after the log write, the redelivery never came), and a one-time schedule that reads
  // running although its latest call is final (a deferred or retry run's pending -> running write raced
  // the final callback's outcome: FerretDB's conditional updates are not atomic). Both get the outcome
  // through the callback's own path, which is safe to repeat.
  private async settleOutcomes(deadline: number): Promise<string> {
    const before = new Date(this.clock.now().getTime() - OUTCOME_GRACE_MS);
    let unrecorded = 0;
    const finals = await this.callLogs.findFinalWithoutOutcome(before, BATCH);
    const latestOf = await this.callLogs.latestForSchedules(finals.map((l) => l.schedule_id).filter((id): id is string => id !== null));
    for (const log of finals) {
      if (Date.now() > deadline) break;
      if (await this.settle(log, before, log.schedule_id ? latestOf.get(log.schedule_id) : undefined)) unrecorded++;
    }
    let running = 0;
    let after: string | null = null;
    for (let page = 0; page < RUNNING_PAGES && Date.now() <= deadline; page++) {
      // Only schedules no write has touched within the grace: a burst's thousands of calls in flight are not
      // stuck, and each page costs a read of every call log on the stand-in database (latestForSchedules:
      // 20 such reads, about 300 ms each, per pass with 10,000 one-time calls in flight).
      const scheduleIds = await this.outcomes.runningOneTimeScheduleIds(after, BATCH, before);
      const latestOfRunning = await this.callLogs.latestForSchedules(scheduleIds);
      for (const scheduleId of scheduleIds) {
        if (Date.now() > deadline) break;
        const latest = latestOfRunning.get(scheduleId);
        if (latest && isFinalCallStatus(latest.status) && (await this.settle(latest, before, latest))) running++;
      }
      if (scheduleIds.length < BATCH) break;
      after = scheduleIds[scheduleIds.length - 1];
    }
    return `unrecorded_outcomes=${unrecorded} running_after_final=${running}`;
  }

  private async settle(log: CallLog, before: Date, latest: CallLog | undefined): Promise<boolean> {
    if (!log.schedule_id || log.last_updated.getTime() >= before.getTime()) return false;
    try {
      // Ended by the dispatcher (rejected, expired, skipped, deferred): it settled the schedule itself, and
      // a deferred or skipped dial is no outcome. Marked so that the scan does not meet it again.
      if (!finalFromProvider(log)) {
        if (!log.outcome_recorded_at) await this.callLogs.markOutcomeRecorded(log.id, this.clock.now());
        return false;
      }
      // A later attempt exists: this call's retry was scheduled and taken; at most its notification and the
      // mark are missing.
      if (latest && latest.id !== log.id) {
        if (!log.outcome_recorded_at) await this.statusUpdates.settleSupersededCall(log);
        return false;
      }
      await this.statusUpdates.settleFinalCall(log);
      return true;
    } catch (error) {
      this.logger.warn(`could not settle the outcome of call log ${log.id}: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }
}
