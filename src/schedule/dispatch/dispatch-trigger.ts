import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { JobQueueService } from '../../jobs/job-queue.service';
import { DISPATCH_JOB } from '../schedule.constants';

// The schedule's one Agenda job. It is the durable backstop: the due-schedule sweeper dispatches on time
// in batches, and the job fires SCHEDULER_BACKSTOP_DELAY_MS later to catch anything the sweepers missed.
// (Agenda locks jobs one findAndModify at a time, which on FerretDB costs a collection scan per job.)
// Jobs are addressed by the id stored on the schedule; the lookup by data.schedule_id is the fallback.
@Injectable()
export class DispatchTrigger {
  constructor(
    private readonly jobs: JobQueueService,
    private readonly config: AppConfig,
  ) {}

  backstopFor(nextExecution: Date | null): Date | null {
    return nextExecution ? new Date(nextExecution.getTime() + this.config.scheduler.backstopDelayMs) : null;
  }

  create(scheduleId: string, nextExecution: Date | null): Promise<string> {
    return this.jobs.createJob(DISPATCH_JOB, { schedule_id: scheduleId }, this.backstopFor(nextExecution));
  }

  async arm(scheduleId: string, jobId: string | null, nextExecution: Date | null): Promise<string> {
    return this.armAt(scheduleId, jobId, this.backstopFor(nextExecution));
  }

  // `at` as given, without the backstop delay: the reconciler's repair for an overdue schedule.
  async armAt(scheduleId: string, jobId: string | null, at: Date | null): Promise<string> {
    const key = { schedule_id: scheduleId };
    if (!jobId) return this.jobs.upsertUnique(DISPATCH_JOB, key, key, at);
    await this.jobs.rescheduleJob(DISPATCH_JOB, jobId, key, at);
    return jobId;
  }

  // A sweeper holding these schedules keeps their backstops away while it works through a backlog;
  // if it dies, the backstops fire SCHEDULER_BACKSTOP_DELAY_MS after its last sweep.
  async postpone(jobIds: string[], now: Date): Promise<void> {
    await this.jobs.postponeJobs(jobIds, new Date(now.getTime() + this.config.scheduler.backstopDelayMs));
  }

  async suspend(scheduleId: string, jobId: string | null): Promise<void> {
    if (jobId) await this.jobs.setDisabledById(jobId, true);
    else await this.jobs.setDisabled(DISPATCH_JOB, { schedule_id: scheduleId }, true);
  }

  async remove(scheduleId: string, jobId: string | null): Promise<void> {
    if (jobId) await this.jobs.removeById(jobId);
    else await this.jobs.removeUnique(DISPATCH_JOB, { schedule_id: scheduleId });
  }
}
