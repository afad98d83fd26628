import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { IsMongoId } from 'class-validator';
import { parseJobPayload } from '../common/validation/validate-payload';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { CampaignRunner } from './campaign-runner.service';
import { CAMPAIGN_TICK_JOB } from './campaign.constants';

export class CampaignTickPayload {
  @IsMongoId()
  campaign_id: string;
}

// Cluster-wide: one job per running campaign. Events make campaigns move fast; this makes them move
// at all after a crash, because it works from the database alone.
@Injectable()
export class CampaignTickJob implements OnModuleInit {
  private readonly logger = new Logger(CampaignTickJob.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly runner: CampaignRunner,
  ) {}

  onModuleInit(): void {
    this.jobs.define(CAMPAIGN_TICK_JOB, (data) => this.handle(data), { concurrency: 4 });
  }

  async handle(data: unknown): Promise<JobOutcome> {
    const payload = parseJobPayload(CampaignTickPayload, data, (message) => this.logger.error(message));
    if (!payload) return { outcome: 'invalid_payload', nextRunAt: null };
    const result = await this.runner.advance(payload.campaign_id);
    return { outcome: `${result.outcome} started=${result.started}`, nextRunAt: result.delayMs === null ? null : new Date(Date.now() + result.delayMs) };
  }
}
