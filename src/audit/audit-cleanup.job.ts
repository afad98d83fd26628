import { Injectable, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { AuditService } from './audit.service';

export const AUDIT_CLEANUP_JOB = 'audit.cleanup';

// Retention by a daily job rather than a TTL index, which FerretDB does not have.
@Injectable()
export class AuditCleanupJob implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    private readonly jobs: JobQueueService,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.define(AUDIT_CLEANUP_JOB, () => this.handle(), { concurrency: 1 });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.scheduler.enabled) await this.jobs.every('1 day', AUDIT_CLEANUP_JOB);
  }

  handle(): Promise<JobOutcome> {
    return this.audit.pruneExpired();
  }
}
