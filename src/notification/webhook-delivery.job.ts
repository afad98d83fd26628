import { Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { DELIVER_JOB, DeliverJobData } from './notification.constants';
import { WebhookDeliveryService } from './webhook-delivery.service';

// A webhook retry, persisted in Agenda so it survives restarts. The delivery record decides what happens.
@Injectable()
export class WebhookDeliveryJob implements OnModuleInit {
  constructor(
    private readonly jobs: JobQueueService,
    private readonly deliveries: WebhookDeliveryService,
    private readonly config: AppConfig,
  ) {}

  // Agenda's concurrency is shared by every job type: hanging subscribers may hold at most half of it,
  // so dispatch backstops and the reconciler always find a slot.
  onModuleInit(): void {
    const concurrency = Math.max(1, Math.floor(this.config.scheduler.concurrency / 2));
    this.jobs.define<DeliverJobData>(DELIVER_JOB, (data) => this.handle(data), { concurrency });
  }

  handle(data: DeliverJobData): Promise<JobOutcome> {
    return this.deliveries.runScheduled(data.delivery_id);
  }
}
