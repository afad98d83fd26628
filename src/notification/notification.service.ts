import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { Listener } from 'eventemitter2';
import { Clock } from '../common/clock/clock';
import { InFlight } from '../common/in-flight';
import { AppConfig } from '../config/app-config';
import { DomainEvent, DomainEventMap, DomainEventName, isDomainEvent } from './domain-events';
import { EventRelay } from './event-relay.service';
import { matchesEventPattern } from './event-pattern';
import { LEASE_SLACK_MS } from './notification.constants';
import { NotificationEventRepository } from './notification-event.repository';
import { NotificationStreamService } from './notification-stream.service';
import { StoredEvent, WebhookDelivery } from './notification.types';
import { maskPhone } from './phone-mask';
import { WebhookDeliveryService } from './webhook-delivery.service';

export type NotificationHandler<E extends DomainEvent = DomainEvent> = (event: E) => void | Promise<void>;

interface Registration {
  pattern: string;
  handler: NotificationHandler;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

// Fans every domain event out to in-process handlers and the built-in channels (log, webhook), and
// records it for the SSE stream. It listens with EventEmitter2's `async` option, so emit() only queues
// the call (setImmediate): no listener runs, let alone fails, inside the publisher's call path.
@Injectable()
export class NotificationService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Notification');
  private readonly registrations = new Set<Registration>();
  private listener: Listener | null = null;
  private readonly inFlight = new InFlight();
  // Events already stored by recordOnce, with their deliveries: publishing one runs the in-process handlers
  // and the first delivery attempts, and stores nothing again.
  private readonly recorded = new WeakMap<DomainEvent, WebhookDelivery[]>();

  constructor(
    private readonly emitter: EventEmitter2,
    private readonly events: NotificationEventRepository,
    private readonly stream: NotificationStreamService,
    private readonly webhooks: WebhookDeliveryService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly relay: EventRelay,
  ) {}

  onModuleInit(): void {
    this.listener = this.emitter.on('**', (event: unknown) => this.track(this.accept(event)), { async: true, objectify: true }) as Listener;
  }

  // Lets work already started (a webhook attempt, its record) finish before the connection closes.
  async onModuleDestroy(): Promise<void> {
    this.listener?.off();
    this.listener = null;
    await this.inFlight.drain(Date.now() + this.config.notifications.webhookTimeoutMs + LEASE_SLACK_MS);
  }

  registerHandler<N extends DomainEventName>(pattern: N, handler: NotificationHandler<DomainEventMap[N]>): () => void;
  registerHandler(pattern: string, handler: NotificationHandler): () => void;
  registerHandler(pattern: string, handler: NotificationHandler<never>): () => void {
    const registration: Registration = { pattern, handler: handler as NotificationHandler };
    this.registrations.add(registration);
    return () => {
      this.registrations.delete(registration);
    };
  }

  // Stores the event for the stream and its webhook deliveries now, before the caller records that it is
  // done (a call's outcome), so that a crash in between loses nothing: whoever repeats the work after the
  // crash calls this again with the same key, and the event and its deliveries are not made twice. The
  // first delivery attempts run when the caller publishes the event (after its response); deliveries whose
  // event is never published are re-armed by the maintenance job.
  async recordOnce(event: DomainEvent, key: string): Promise<void> {
    await this.recordStored(event, await this.events.appendOnce(key, this.toRecord(event)));
  }

  // recordOnce for an event whose stored id the caller derives from the change (see appendWithId).
  async recordWithId(event: DomainEvent, id: string): Promise<void> {
    await this.recordStored(event, await this.events.appendWithId(id, this.toRecord(event)));
  }

  // The stored event's deliveries, created now, and attempted when the caller publishes it; and its entry
  // for the durable consumers (EventRelay), which run when it is published, or by the relay pass.
  private async recordStored(event: DomainEvent, stored: StoredEvent): Promise<void> {
    this.stream.kick();
    const [deliveries] = await Promise.all([
      this.config.notifications.channels.includes('webhook') ? this.webhooks.createDeliveries(stored) : [],
      this.relay.hold(event, stored.id),
    ]);
    this.recorded.set(event, deliveries);
  }

  private toRecord(event: DomainEvent): Omit<StoredEvent, 'id'> {
    return { tenant_id: event.tenant_id, type: event.type, created_at: this.clock.now(), data: { ...event.toEnvelopeData() } };
  }

  private track(work: Promise<void>): void {
    void this.inFlight.track(work);
  }

  private async accept(event: unknown): Promise<void> {
    if (!isDomainEvent(event)) return;
    for (const { pattern, handler } of this.registrations) {
      if (!matchesEventPattern(pattern, event.type)) continue;
      // Each handler is isolated: a throw or a rejection is logged and the others still run.
      void Promise.resolve()
        .then(() => handler(event))
        .catch((error: unknown) => this.logger.warn(`handler for ${pattern} failed on ${event.type}: ${message(error)}`));
    }
    if (this.config.notifications.channels.includes('log')) this.logChannel(event);
    const deliveries = this.recorded.get(event);
    if (deliveries) {
      if (deliveries.length > 0) await this.webhooks.attemptNow(deliveries).catch((error: unknown) => this.logger.error(`webhook attempts of ${event.type} failed: ${message(error)}`));
      return;
    }

    let stored: StoredEvent;
    try {
      stored = await this.events.append(this.toRecord(event));
    } catch (error) {
      this.logger.error(`could not record ${event.type} for tenant ${event.tenant_id}; stream and webhooks miss it: ${message(error)}`);
      return;
    }
    this.stream.kick();
    if (!this.config.notifications.channels.includes('webhook')) return;
    try {
      await this.webhooks.fanOut(stored);
    } catch (error) {
      this.logger.error(`webhook fan-out of ${stored.type} ${stored.id} failed: ${message(error)}`);
    }
  }

  private logChannel(event: DomainEvent): void {
    const ids = 'call_log_id' in event ? { call_log_id: event.call_log_id, call_id: event.call_id, attempt_number: event.attempt_number } : {};
    this.logger.log(
      JSON.stringify({
        event: event.type,
        tenant_id: event.tenant_id,
        schedule_id: event.schedule_id,
        ...ids,
        phone: maskPhone(event.phone),
        status: event.status,
        occurred_at: event.occurred_at,
      }),
    );
  }
}
