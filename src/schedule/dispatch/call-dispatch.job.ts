import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { parseJobPayload } from '../../common/validation/validate-payload';
import { JobOutcome, JobQueueService } from '../../jobs/job-queue.service';
import { DISPATCH_JOB } from '../schedule.constants';
import { DispatchJobPayload } from './dispatch-job.payload';
import { DispatchTrigger } from './dispatch-trigger';
import { OccurrenceDispatchService } from './occurrence-dispatch.service';

@Injectable()
export class CallDispatchJob implements OnModuleInit {
  private readonly logger = new Logger(CallDispatchJob.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly dispatch: OccurrenceDispatchService,
    private readonly config: AppConfig,
    private readonly trigger: DispatchTrigger,
  ) {}

  onModuleInit(): void {
    this.jobs.define<DispatchJobPayload>(DISPATCH_JOB, (data) => this.handle(data), {
      concurrency: this.config.scheduler.concurrency,
      lockLifetimeMs: this.config.scheduler.lockLifetimeMs,
    });
  }

  async handle(data: unknown): Promise<JobOutcome> {
    const payload = parseJobPayload(DispatchJobPayload, data, (message) => this.logger.error(message));
    if (!payload) return { outcome: 'invalid_payload', nextRunAt: null };
    const result = await this.dispatch.dispatchDue(payload.schedule_id);
    // The job stays a backstop for the schedule's next occurrence, not its primary trigger.
    return result.nextRunAt === undefined ? result : { ...result, nextRunAt: this.trigger.backstopFor(result.nextRunAt) };
  }
}
