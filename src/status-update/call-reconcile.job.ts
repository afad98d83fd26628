import { Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { CallProviderRegistry } from '../calls/call-provider.registry';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { CALL_PROVIDERS, CallProviderName } from '../config/environment.schema';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { CallLogRepository } from '../tracking/call-log.repository';
import { TwilioCallStatus } from './dto/twilio-status-callback.dto';
import { StatusUpdateService } from './status-update.service';

export const CALL_RECONCILE_JOB = 'call.reconcile';
const CALL_RECONCILE_EVERY = '1 minute';
const BATCH = 100;
const FINAL_PROVIDER_STATUSES: TwilioCallStatus[] = ['completed', 'busy', 'failed', 'no-answer', 'canceled'];

// Cluster-wide (one Agenda job): calls still not final CALL_RECONCILE_AFTER_MINUTES after their last
// update (a lost callback, a webhook outage) are fetched from their provider, and a final status found
// there is applied like a callback, with the same dedupe and side effects.
@Injectable()
export class CallReconcileJob implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(CallReconcileJob.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly callLogs: CallLogRepository,
    private readonly providers: CallProviderRegistry,
    private readonly statusUpdates: StatusUpdateService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.define(CALL_RECONCILE_JOB, () => this.handle(), { concurrency: 1 });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.scheduler.enabled) await this.jobs.every(CALL_RECONCILE_EVERY, CALL_RECONCILE_JOB);
  }

  async handle(): Promise<JobOutcome> {
    const before = new Date(this.clock.now().getTime() - this.config.callReconcileAfterMinutes * 60_000);
    const stale = await this.callLogs.findStaleInFlight(before, BATCH);
    let applied = 0;
    for (const log of stale) {
      if (!log.call_id || !CALL_PROVIDERS.includes(log.provider as CallProviderName)) continue;
      try {
        const state = await this.providers.get(log.provider as CallProviderName).fetchCall(log.call_id);
        // A call still running at the provider is asked about again on a later tick.
        if (!state || !FINAL_PROVIDER_STATUSES.includes(state.status as TwilioCallStatus)) continue;
        const outcome = await this.statusUpdates.applyCallback(
          {
            CallSid: state.callId,
            CallStatus: state.status as TwilioCallStatus,
            ...(state.duration !== null ? { CallDuration: String(state.duration) } : {}),
            ...(state.answeredBy ? { AnsweredBy: state.answeredBy } : {}),
            ...(state.endTime ? { Timestamp: state.endTime.toUTCString() } : {}),
          },
          log.id,
          'provider_lookup',
        );
        if (outcome === 'applied') applied++;
      } catch (error) {
        this.logger.warn(`could not reconcile call ${log.call_id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return { outcome: `stale=${stale.length} applied=${applied}` };
  }
}
