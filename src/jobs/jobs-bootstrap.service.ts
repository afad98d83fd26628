import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { JobQueueService } from './job-queue.service';

// Modules define their jobs in onModuleInit; processing starts only once every definition exists.
@Injectable()
export class JobsBootstrapService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Jobs');

  constructor(
    private readonly config: AppConfig,
    private readonly jobs: JobQueueService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.scheduler.enabled) {
      this.logger.warn('SCHEDULER_ENABLED=false: this instance serves the API but runs no jobs');
      return;
    }
    await this.jobs.start();
  }
}
