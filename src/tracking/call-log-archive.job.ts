import { Injectable, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { CallLogRepository } from './call-log.repository';

export const CALL_LOG_ARCHIVE_JOB = 'call-logs.archive';
const ARCHIVE_EVERY = '5 minutes';
// Each batch costs one read of the hot collection and one delete per hour its logs fall in.
const ARCHIVE_BATCH = 2000;
// A pass stops taking new batches after this long (wall clock: it bounds real work); the next goes on.
const PASS_BUDGET_MS = 60_000;
const BACKLOG_PAUSE_MS = 15_000;

// Cluster-wide (one Agenda job; two instances moving the same logs at once is safe, see
// CallLogRepository.archiveSettled): keeps the hot call logs to about CALL_LOG_ARCHIVE_AFTER_HOURS of calls.
@Injectable()
export class CallLogArchiveJob implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    private readonly jobs: JobQueueService,
    private readonly logs: CallLogRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.define(CALL_LOG_ARCHIVE_JOB, () => this.handle(), { concurrency: 1, lockLifetimeMs: 2 * PASS_BUDGET_MS });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.scheduler.enabled) return;
    await this.jobs.every(ARCHIVE_EVERY, CALL_LOG_ARCHIVE_JOB);
  }

  async handle(): Promise<JobOutcome> {
    const before = this.logs.archiveCutoff(this.clock.now());
    await this.logs.recordArchiveCutoff(before);
    await this.logs.prunePlacedCalls(this.clock.now());
    const deadline = Date.now() + PASS_BUDGET_MS;
    let archived = 0;
    let found = ARCHIVE_BATCH;
    while (found === ARCHIVE_BATCH && Date.now() < deadline) {
      const batch = await this.logs.archiveSettled(before, ARCHIVE_BATCH);
      found = batch.found;
      archived += batch.moved;
    }
    // Out of time with more to move (the first passes after an upgrade, over every log stored before): the
    // next pass comes soon, with a pause that leaves the database to the dial path in between.
    return found === ARCHIVE_BATCH ? { outcome: `archived=${archived} more=true`, nextRunAt: new Date(Date.now() + BACKLOG_PAUSE_MS) } : { outcome: `archived=${archived}` };
  }
}
