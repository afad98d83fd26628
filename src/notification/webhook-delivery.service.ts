import { Injectable, Logger, Optional } from '@nestjs/common';
import { Principal, scopeOf } from '../auth/principal';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { JobOutcome, JobQueueService } from '../jobs/job-queue.service';
import { MetricsRecorder } from '../observability/metrics/metrics-recorder';
import { matchesAnyPattern } from './event-pattern';
import { DELIVER_JOB, DeliverJobData, LEASE_SLACK_MS } from './notification.constants';
import { DeliveryStatus, envelopeOf, StoredEvent, WebhookDelivery } from './notification.types';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhookBody } from './outbound-signature';
import { retryDelayAfter } from './retry-backoff';
import { DeliveryNotFoundException, SubscriptionInactiveException } from './notification.exceptions';
import { DeliveryListFilter, WebhookDeliveryRepository } from './webhook-delivery.repository';
import { WebhookSender } from './webhook-sender';
import { WebhookSubscriptionRepository } from './webhook-subscription.repository';

type Trigger = 'inline' | 'job';

// At-least-once delivery: one record per (event, subscription); the first attempt runs in-process right
// away, retries are Agenda jobs so they survive restarts. The record, not the job, is the truth: a job
// that wakes early or twice just re-arms or finds nothing to do.
@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger(WebhookDeliveryService.name);

  constructor(
    private readonly deliveries: WebhookDeliveryRepository,
    private readonly subscriptions: WebhookSubscriptionRepository,
    private readonly sender: WebhookSender,
    private readonly jobs: JobQueueService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    @Optional() private readonly metrics?: MetricsRecorder,
  ) {}

  async fanOut(event: StoredEvent): Promise<number> {
    const deliveries = await this.createDeliveries(event);
    await this.attemptNow(deliveries);
    return deliveries.length;
  }

  // One delivery per matching subscription, stored but not yet attempted (attemptNow sends them). Safe to
  // repeat for the same event: a delivery already there is returned, not made again.
  async createDeliveries(event: StoredEvent): Promise<WebhookDelivery[]> {
    const subscribers = (await this.subscriptions.findActiveForTenant(event.tenant_id)).filter((s) => matchesAnyPattern(s.events, event.type));
    const payload = JSON.stringify(envelopeOf(event));
    return Promise.all(
      subscribers.map((subscription) =>
        this.deliveries.create(
          { tenant_id: event.tenant_id, subscription_id: subscription.id, event_id: event.id, event_type: event.type, payload, redelivery_of: null },
          this.clock.now(),
        ),
      ),
    );
  }

  // First attempts of stored deliveries; one that is finished or leased elsewhere is left alone.
  async attemptNow(deliveries: WebhookDelivery[]): Promise<void> {
    await Promise.all(deliveries.map((d) => this.attempt(d.id, 'inline')));
  }

  list(principal: Principal, filter: DeliveryListFilter, limit: number, offset: number) {
    return this.deliveries.listForTenant(scopeOf(principal), filter, limit, offset);
  }

  async get(principal: Principal, id: string): Promise<WebhookDelivery> {
    const found = await this.deliveries.findForTenant(id, scopeOf(principal));
    if (!found) throw new DeliveryNotFoundException(id);
    return found;
  }

  // A new delivery of the same envelope (same event id, so receivers can dedupe), attempted now; it
  // retries on the usual schedule if this attempt fails.
  async redeliver(principal: Principal, id: string): Promise<WebhookDelivery> {
    const original = await this.get(principal, id);
    const subscription = await this.subscriptions.findById(original.subscription_id);
    if (!subscription || !subscription.active) throw new SubscriptionInactiveException(original.subscription_id);
    const copy = await this.deliveries.create(
      {
        tenant_id: original.tenant_id,
        subscription_id: original.subscription_id,
        event_id: original.event_id,
        event_type: original.event_type,
        payload: original.payload,
        redelivery_of: original.id,
      },
      this.clock.now(),
    );
    await this.attempt(copy.id, 'inline');
    return (await this.deliveries.findById(copy.id)) ?? copy;
  }

  // Agenda's entry point. Returns when the job should wake next (null: the delivery is finished).
  async runScheduled(deliveryId: string): Promise<JobOutcome> {
    return this.attempt(deliveryId, 'job');
  }

  // Its timer was lost (a crash before arming, or a removed job): always a new job, never the old id.
  async armStranded(delivery: WebhookDelivery): Promise<void> {
    await this.armRetry({ ...delivery, job_id: null }, this.clock.now());
  }

  private async attempt(deliveryId: string, trigger: Trigger): Promise<JobOutcome> {
    const now = this.clock.now();
    const leaseUntil = new Date(now.getTime() + this.config.notifications.webhookTimeoutMs + LEASE_SLACK_MS);
    const delivery = await this.deliveries.claimDue(deliveryId, now, leaseUntil);
    if (!delivery) return this.notClaimed(deliveryId, now);

    const subscription = await this.subscriptions.findById(delivery.subscription_id);
    if (!subscription || !subscription.active) {
      await this.deliveries.cancel(delivery.id, subscription ? 'subscription deactivated' : 'subscription deleted', this.clock.now());
      await this.dropJob(delivery);
      return { outcome: 'cancelled', nextRunAt: null };
    }

    const sentAt = this.clock.now();
    const response = await this.sender.post({
      url: subscription.url,
      body: delivery.payload,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'CallScheduler-Webhooks/1',
        [SIGNATURE_HEADER]: signWebhookBody(subscription.secret, delivery.payload, sentAt),
        [EVENT_ID_HEADER]: delivery.event_id,
        'X-CallScheduler-Delivery-Id': delivery.id,
      },
    });
    const ok = response.status_code !== null && response.status_code >= 200 && response.status_code < 300;
    const number = delivery.attempt_count + 1;
    const delay = ok ? null : retryDelayAfter(number, this.config.notifications.retryDelaysMs);
    const finishedAt = this.clock.now();
    const status: DeliveryStatus = ok ? 'delivered' : delay === null ? 'dead' : 'retrying';
    this.metrics?.notificationDelivery(status);
    const nextAttemptAt = delay === null ? null : new Date(finishedAt.getTime() + delay);
    await this.deliveries.recordAttempt(
      delivery.id,
      { status, next_attempt_at: nextAttemptAt, attempt: { number, at: sentAt, url: subscription.url, ...response } },
      finishedAt,
    );
    if (status === 'dead') this.logger.warn(`delivery ${delivery.id} of ${delivery.event_type} to ${subscription.url} dead-lettered after ${number} attempts: ${response.error ?? `HTTP ${response.status_code}`}`);

    if (nextAttemptAt === null) {
      await this.dropJob(delivery);
      return { outcome: status, nextRunAt: null };
    }
    // A job re-arms itself through its return value; an inline attempt arms (or creates) the job.
    if (trigger === 'inline') await this.armRetry({ ...delivery, next_attempt_at: nextAttemptAt }, finishedAt);
    return { outcome: `retry_${number}`, nextRunAt: nextAttemptAt };
  }

  private async notClaimed(deliveryId: string, now: Date): Promise<JobOutcome> {
    const current = await this.deliveries.findById(deliveryId);
    if (!current) return { outcome: 'missing', nextRunAt: null };
    if (current.status !== 'pending' && current.status !== 'retrying') {
      await this.dropJob(current);
      return { outcome: `already_${current.status}`, nextRunAt: null };
    }
    // Leased by a running attempt, or not due yet: wake when that changes.
    const wake = Math.max(current.next_attempt_at?.getTime() ?? 0, current.lease_until.getTime() + 1000, now.getTime() + 1000);
    return { outcome: 'not_due', nextRunAt: new Date(wake) };
  }

  private async armRetry(delivery: WebhookDelivery, now: Date): Promise<void> {
    const runAt = delivery.next_attempt_at && delivery.next_attempt_at > now ? delivery.next_attempt_at : now;
    const data: DeliverJobData = { delivery_id: delivery.id };
    if (delivery.job_id) {
      await this.jobs.rescheduleJob(DELIVER_JOB, delivery.job_id, data, runAt);
      return;
    }
    const jobId = await this.jobs.createJob(DELIVER_JOB, data, runAt);
    await this.deliveries.setJobId(delivery.id, jobId);
  }

  // Finished deliveries leave no job behind; Agenda's own save of a removed running job is a no-op.
  private async dropJob(delivery: WebhookDelivery): Promise<void> {
    if (!delivery.job_id) return;
    await this.jobs.removeById(delivery.job_id).catch((error: unknown) => this.logger.warn(`could not remove job ${delivery.job_id}: ${String(error)}`));
  }
}
