import { Injectable, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { AppConfig } from '../../config/app-config';
import { JobOutcome, JobQueueService } from '../../jobs/job-queue.service';
import { OccurrenceClaimRepository } from '../occurrence-claim.repository';
import { CLAIMS_CLEANUP_JOB } from '../schedule.constants';

const BATCH = 1000;
// Within the job's lock; what is left goes at the next run.
const PASS_BUDGET_MS = 30_000;

// Hourly, on one instance: settled claims older than CLAIM_RETENTION_DAYS are deleted, with their
// decisions, and send tickets and fences as old.
@Injectable()
export class ClaimsCleanupJob implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    private readonly jobs: JobQueueService,
    private readonly claims: OccurrenceClaimRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.define(CLAIMS_CLEANUP_JOB, () => this.handle(), { concurrency: 1, lockLifetimeMs: 60_000 });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.scheduler.enabled) await this.jobs.every('1 hour', CLAIMS_CLEANUP_JOB);
  }

  async handle(): Promise<JobOutcome> {
    const cutoff = new Date(this.clock.now().getTime() - this.config.operations.claimRetentionDays * 86_400_000);
    const stopAt = Date.now() + PASS_BUDGET_MS;
    let deleted = 0;
    for (;;) {
      const n = await this.claims.deleteSettledBefore(cutoff, BATCH);
      deleted += n;
      if (n < BATCH || Date.now() > stopAt) break;
    }
    const tickets = await this.claims.deleteSendTicketsBefore(cutoff);
    return { outcome: `deleted=${deleted} tickets=${tickets}` };
  }
}
