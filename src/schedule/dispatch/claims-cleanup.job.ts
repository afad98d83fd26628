import { Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { AppConfig } from '../../config/app-config';
import { JobOutcome, JobQueueService } from '../../jobs/job-queue.service';
import { BulkRequestRepository } from '../bulk-request.repository';
import { IdempotencyKeyRepository } from '../idempotency-key.repository';
import { OccurrenceClaimRepository } from '../occurrence-claim.repository';
import { ScheduleEventRepository } from '../schedule-event.repository';
import { CLAIMS_CLEANUP_JOB } from '../schedule.constants';

const BATCH = 1000;
// Within the job's lock; what is left goes at the next run.
const PASS_BUDGET_MS = 30_000;

// Hourly, on one instance: settled claims older than CLAIM_RETENTION_DAYS are deleted, with their
// decisions, and send tickets and fences as old; so are Idempotency-Keys and bulk answers older than
// IDEMPOTENCY_KEY_RETENTION_HOURS, and history entries older than SCHEDULE_EVENT_RETENTION_DAYS.
@Injectable()
export class ClaimsCleanupJob implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(ClaimsCleanupJob.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly claims: OccurrenceClaimRepository,
    private readonly keys: IdempotencyKeyRepository,
    private readonly bulkRequests: BulkRequestRepository,
    private readonly events: ScheduleEventRepository,
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
    const now = this.clock.now().getTime();
    const { claimRetentionDays, idempotencyKeyRetentionHours, scheduleEventRetentionDays } = this.config.operations;
    const cutoff = new Date(now - claimRetentionDays * 86_400_000);
    const stopAt = Date.now() + PASS_BUDGET_MS;
    let deleted = 0;
    for (;;) {
      const n = await this.claims.deleteSettledBefore(cutoff, BATCH);
      deleted += n;
      if (n < BATCH || Date.now() > stopAt) break;
    }
    const tickets = await this.claims.deleteSendTicketsBefore(cutoff);
    const keyCutoff = new Date(now - idempotencyKeyRetentionHours * 3_600_000);
    const keys = await this.pruned('Idempotency-Keys', () => this.keys.deleteCreatedBefore(keyCutoff));
    const bulk = await this.pruned('bulk answers', () => this.bulkRequests.deleteCreatedBefore(keyCutoff));
    const events = await this.pruned('history entries', () => this.events.deleteBefore(new Date(now - scheduleEventRetentionDays * 86_400_000)));
    return { outcome: `deleted=${deleted} tickets=${tickets} keys=${keys} bulk=${bulk} events=${events}` };
  }

  // The retention steps after the claims', each on its own: one that fails (the first pass over a long
  // history may outlast the socket timeout) is logged and tried again the next hour, and stops neither of
  // the others.
  private async pruned(what: string, remove: () => Promise<number>): Promise<number | 'failed'> {
    try {
      return await remove();
    } catch (error) {
      this.logger.warn(`could not delete old ${what}: ${error instanceof Error ? error.message : String(error)}`);
      return 'failed';
    }
  }
}
