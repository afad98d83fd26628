import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { parseJobPayload } from '../../common/validation/validate-payload';
import { JobOutcome, JobQueueService } from '../../jobs/job-queue.service';
import { CALL_DEFERRED_JOB } from '../schedule.constants';
import { CallDeferredPayload } from './call-deferred.payload';
import { OccurrenceDispatchService } from './occurrence-dispatch.service';

// A dial deferred to the callee's calling hours. Its claim (schedule, occurrence, attempt, deferral) makes a
// second run of this job dial nothing.
@Injectable()
export class CallDeferredJob implements OnModuleInit {
  private readonly logger = new Logger(CallDeferredJob.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly dispatch: OccurrenceDispatchService,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.define<CallDeferredPayload>(CALL_DEFERRED_JOB, (data) => this.handle(data), { concurrency: this.config.scheduler.concurrency });
  }

  async handle(data: unknown): Promise<JobOutcome> {
    const payload = parseJobPayload(CallDeferredPayload, data, (message) => this.logger.error(message));
    if (!payload) return { outcome: 'invalid_payload', nextRunAt: null };
    return this.dispatch.dispatchDeferred(payload.schedule_id, new Date(payload.occurrence_at), payload.attempt_number, payload.deferral, new Date(payload.run_at));
  }
}
