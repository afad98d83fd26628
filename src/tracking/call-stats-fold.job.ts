import { Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { CallLogRepository } from './call-log.repository';
import { CallStatsRepository } from './call-stats.repository';

export const CALL_STATS_FOLD_JOB = 'call-stats.fold';
const FOLD_EVERY = '10 seconds';
// A change stamped before the cutoff must be stored by then: its `at` is taken when its insert is sent,
// and an insert that has not landed a minute later has failed (the driver's socket timeout is shorter).
// The wall clock, like the write gate's: this measures real delays, not scheduled time.
export const FOLD_LAG_MS = 60_000;
// Logs written without a stats change (by a version before the hourly stats, during a rolling upgrade)
// are looked for at start and then this often: one query, cheap once there are none.
const CATCH_UP_EVERY_MS = 60 * 60_000;
const CATCH_UP_BATCH = 500;

// Cluster-wide (one Agenda job; a second instance running it at the same time is safe, see
// CallStatsRepository.fold): folds the stored stats changes into the hourly sums, so the changes collection
// stays small, and counts call logs that were stored without a stats change.
@Injectable()
export class CallStatsFoldJob implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(CallStatsFoldJob.name);
  private lastCatchUp = 0;

  constructor(
    private readonly jobs: JobQueueService,
    private readonly stats: CallStatsRepository,
    private readonly logs: CallLogRepository,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.define(CALL_STATS_FOLD_JOB, () => this.handle(), { concurrency: 1, lockLifetimeMs: 60_000 });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.scheduler.enabled) return;
    await this.jobs.every(FOLD_EVERY, CALL_STATS_FOLD_JOB);
    void this.catchUp().catch((error: Error) => this.logger.error(`stats catch-up stopped: ${error.message}; the next pass goes on`));
  }

  async handle(): Promise<JobOutcome> {
    const counted = Date.now() - this.lastCatchUp >= CATCH_UP_EVERY_MS ? await this.catchUp() : 0;
    const folded = await this.stats.fold(new Date(Date.now() - FOLD_LAG_MS));
    return { outcome: `folded=${folded} counted=${counted}` };
  }

  // Counts every log stored without a stats change into the hourly sums. Until the first pass has ended,
  // the stats are read from the call logs themselves (see TrackingService).
  async catchUp(): Promise<number> {
    this.lastCatchUp = Date.now();
    let total = 0;
    for (let found = CATCH_UP_BATCH; found === CATCH_UP_BATCH; total += found) found = await this.logs.countOlderLogsInStats(CATCH_UP_BATCH);
    await this.stats.markBackfilled(new Date());
    if (total > 0) this.logger.log(`counted ${total} call logs into the hourly stats`);
    return total;
  }
}
