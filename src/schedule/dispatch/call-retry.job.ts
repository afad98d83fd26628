import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { parseJobPayload } from '../../common/validation/validate-payload';
import { JobOutcome, JobQueueService } from '../../jobs/job-queue.service';
import { CALL_RETRY_JOB } from '../schedule.constants';
import { CallRetryPayload } from './call-retry.payload';
import { OccurrenceDispatchService } from './occurrence-dispatch.service';

@Injectable()
export class CallRetryJob implements OnModuleInit {
  private readonly logger = new Logger(CallRetryJob.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly dispatch: OccurrenceDispatchService,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.define<CallRetryPayload>(CALL_RETRY_JOB, (data) => this.handle(data), { concurrency: this.config.scheduler.concurrency });
  }

  // The attempt's claim (schedule, occurrence, attempt number) makes a second run of this job dial nothing.
  async handle(data: unknown): Promise<JobOutcome> {
    const payload = parseJobPayload(CallRetryPayload, data, (message) => this.logger.error(message));
    if (!payload) return { outcome: 'invalid_payload', nextRunAt: null };
    return this.dispatch.dispatchRetry(payload.schedule_id, new Date(payload.occurrence_at), payload.attempt_number);
  }
}
