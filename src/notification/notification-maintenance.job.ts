import { Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { EventRelay } from './event-relay.service';
import { MAINTENANCE_JOB, STRANDED_AFTER_MS } from './notification.constants';
import { NotificationEventRepository } from './notification-event.repository';
import { WebhookDeliveryRepository } from './webhook-delivery.repository';
import { WebhookDeliveryService } from './webhook-delivery.service';

const STRANDED_BATCH = 200;

// Cluster-wide (one Agenda job): bounds the event history by age and per-tenant count, drops old finished
// deliveries, re-arms open deliveries whose process died before it armed their retry, and runs the durable
// consumers of stored events whose process died (or whose consumer failed) before they finished.
@Injectable()
export class NotificationMaintenanceJob implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(NotificationMaintenanceJob.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly events: NotificationEventRepository,
    private readonly deliveryRecords: WebhookDeliveryRepository,
    private readonly deliveries: WebhookDeliveryService,
    private readonly relay: EventRelay,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.define(MAINTENANCE_JOB, () => this.handle(), { concurrency: 1 });
  }

  async onApplicationBootstrap(): Promise<void> {
    // A numeric interval string is milliseconds to Agenda.
    if (this.config.scheduler.enabled) await this.jobs.every(String(this.config.notifications.pruneIntervalMs), MAINTENANCE_JOB);
  }

  async handle(): Promise<JobOutcome> {
    const now = this.clock.now();
    const { historyMaxAgeSeconds, historyMaxPerTenant, deliveryRetentionSeconds } = this.config.notifications;
    const byAge = await this.events.pruneOlderThan(new Date(now.getTime() - historyMaxAgeSeconds * 1000));
    const byCount = await this.events.pruneBeyondCountPerTenant(historyMaxPerTenant);
    const deliveries = await this.deliveryRecords.pruneFinishedBefore(new Date(now.getTime() - deliveryRetentionSeconds * 1000));
    const grace = Math.max(STRANDED_AFTER_MS, 3 * this.config.scheduler.jobPollIntervalMs);
    const stranded = await this.deliveryRecords.findStranded(new Date(now.getTime() - grace), now, STRANDED_BATCH);
    for (const delivery of stranded) await this.deliveries.armStranded(delivery);
    if (stranded.length > 0) this.logger.warn(`re-armed ${stranded.length} stranded webhook deliveries`);
    const relayed = await this.relay.relayStranded(grace, STRANDED_BATCH);
    if (relayed > 0) this.logger.warn(`ran the durable consumers of ${relayed} stranded event(s)`);
    return { outcome: `events_pruned=${byAge + byCount} deliveries_pruned=${deliveries} rearmed=${stranded.length} relayed=${relayed}` };
  }
}
