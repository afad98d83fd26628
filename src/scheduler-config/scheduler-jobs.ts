import { Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { parseJobPayload } from '../common/validation/validate-payload';
import { AppConfig } from '../config/app-config';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { CampaignRepository } from '../campaign/campaign.repository';
import { DailyRunSchedule } from './daily-run.schedule';
import { SchedulerConfigService } from './scheduler-config.service';
import { CLEANUP_JOB, DAILY_RUN_JOB, DEFAULT_RETENTION_DAYS } from './scheduler-config.types';

export class DailyRunPayload {
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  tenant_id: string;
}

// One `scheduler.daily_run` job per tenant (re-armed for the next day after each run) and one
// cluster-wide `scheduler.cleanup` a day.
@Injectable()
export class SchedulerJobs implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(SchedulerJobs.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly service: SchedulerConfigService,
    private readonly config: AppConfig,
    private readonly dailyRuns: DailyRunSchedule,
    private readonly campaigns: CampaignRepository,
  ) {}

  onModuleInit(): void {
    this.jobs.define(DAILY_RUN_JOB, (data) => this.handleDailyRun(data), { concurrency: 1 });
    this.jobs.define(CLEANUP_JOB, () => this.handleCleanup(), { concurrency: 1 });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.scheduler.enabled) return;
    await this.jobs.every('1 day', CLEANUP_JOB);
    // Tenants whose due-date campaigns started before their job existed (or before an upgrade) get one now.
    for (const tenantId of await this.campaigns.listTenantsWithRunningDueDateCampaigns()) await this.dailyRuns.ensureArmed(tenantId);
  }

  async handleDailyRun(data: unknown): Promise<JobOutcome> {
    const payload = parseJobPayload(DailyRunPayload, data, (message) => this.logger.error(message));
    if (!payload) return { outcome: 'invalid_payload', nextRunAt: null };
    const config = await this.service.get(payload.tenant_id);
    if (!config.enabled) return { outcome: 'disabled', nextRunAt: null };
    const queued = await this.service.runSelection(payload.tenant_id);
    return { outcome: `queued=${queued}`, nextRunAt: this.dailyRuns.nextWallRun(config) };
  }

  async handleCleanup(): Promise<JobOutcome> {
    const removed = await this.service.cleanup(null, DEFAULT_RETENTION_DAYS);
    return { outcome: `batch_entries=${removed.batch_entries} campaign_attempts=${removed.campaign_attempts}` };
  }
}
