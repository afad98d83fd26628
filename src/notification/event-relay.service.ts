import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { Clock } from '../common/clock/clock';
import { InFlight } from '../common/in-flight';
import { AppConfig } from '../config/app-config';
import { DomainEvent, DomainEventName, domainEventFromEnvelope } from './domain-events';
import { EventRelayRepository } from './event-relay.repository';

// Work that a stored domain event owes the service itself, and that a crash must not lose: a call's seat,
// a campaign's progress, an agent hand-off. Runs at least once per stored event it wants: in process when
// the event is published, and again by the relay pass if the process stopped first. So it must be
// idempotent; it throws to be retried by the pass.
export interface DurableEventConsumer {
  readonly name: string;
  // Decided from the event alone: an entry is stored only for events some consumer wants.
  wants(event: DomainEvent): boolean;
  handle(event: DomainEvent): Promise<void>;
}

// Marks a provider that implements DurableEventConsumer: the relay finds every one at start.
export const DurableConsumer = DiscoveryService.createDecorator();

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

// A pass's failed run waits 1 minute, then 2, 4... (at most an hour) before the next; after this many the
// entry is dropped with an error: a consumer that keeps failing must not hold the others' turn.
const MAX_PASS_ATTEMPTS = 8;
const PASS_BACKOFF_MS = 60_000;
const MAX_PASS_BACKOFF_MS = 3_600_000;

// The relay of stored events to the durable consumers. Storing an event (NotificationService, before the
// change it reports is marked done) holds an entry for it when a consumer wants it; publishing it runs the
// consumers and releases the entry. An entry whose event was never published, or whose consumer failed,
// is run again by the pass (`relayStranded`, in the notification.maintenance job), backing off between
// failed runs and giving up after MAX_PASS_ATTEMPTS.
@Injectable()
export class EventRelay implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('EventRelay');
  private readonly consumers: DurableEventConsumer[] = [];
  private readonly held = new WeakMap<DomainEvent, string>();
  private readonly inFlight = new InFlight();
  private closing = false;

  constructor(
    private readonly pending: EventRelayRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly discovery: DiscoveryService,
  ) {}

  // A marked provider replaced by something else (a test's override) is left out.
  onModuleInit(): void {
    for (const { instance } of this.discovery.getProviders({ metadataKey: DurableConsumer.KEY })) {
      const consumer = instance as Partial<DurableEventConsumer> | undefined;
      if (typeof consumer?.wants === 'function' && typeof consumer.handle === 'function') this.consumers.push(consumer as DurableEventConsumer);
    }
  }

  // Called with the stored event's id, before the caller marks its change done.
  async hold(event: DomainEvent, storedId: string): Promise<void> {
    if (this.wanting(event).length === 0) return;
    const campaign = 'campaign_id' in event ? { campaign_id: event.campaign_id, for_campaign: null } : { campaign_id: null, for_campaign: event.for_campaign };
    await this.pending.hold({ id: storedId, at: this.clock.now(), type: event.type, data: { ...event.toEnvelopeData() }, ...campaign });
    this.held.set(event, storedId);
  }

  // The in-process run of a published event, after the caller's call path (like the emitter's listeners).
  // Once the application is closing, a held event is left to the pass: its run would outlive the
  // connection.
  deliver(event: DomainEvent): void {
    const wanting = this.wanting(event);
    if (wanting.length === 0) return;
    const storedId = this.held.get(event) ?? null;
    if (this.closing && storedId) return;
    void this.inFlight.track(
      new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => this.run(event, wanting, storedId))
        .catch((error: unknown) => this.logger.error(`${event.type}: durable consumers not run: ${message(error)}`)),
    );
  }

  // Entries held longer than `olderThanMs` whose consumers never finished: run again. Returns how many
  // were relayed this pass.
  async relayStranded(olderThanMs: number, limit: number): Promise<number> {
    const now = this.clock.now();
    const due = await this.pending.due(now, new Date(now.getTime() - olderThanMs), limit);
    let relayed = 0;
    for (const entry of due) {
      const event = domainEventFromEnvelope(entry.type as DomainEventName, entry.data, entry);
      if (await this.run(event, this.wanting(event), entry.id)) {
        relayed++;
        continue;
      }
      const attempts = entry.attempts + 1;
      if (attempts >= MAX_PASS_ATTEMPTS) {
        this.logger.error(`${entry.type} ${entry.id}: its durable consumers failed ${attempts} times; given up`);
        await this.pending.release(entry.id);
      } else {
        await this.pending.postpone(entry.id, attempts, new Date(now.getTime() + Math.min(PASS_BACKOFF_MS * 2 ** (attempts - 1), MAX_PASS_BACKOFF_MS)));
      }
    }
    return relayed;
  }

  private wanting(event: DomainEvent): DurableEventConsumer[] {
    return this.consumers.filter((c) => {
      try {
        return c.wants(event);
      } catch (error) {
        this.logger.error(`${c.name} could not tell whether it wants ${event.type}: ${message(error)}`);
        return false;
      }
    });
  }

  // Every consumer that wants the event, side by side; the entry goes only when all of them succeeded.
  private async run(event: DomainEvent, wanting: DurableEventConsumer[], storedId: string | null): Promise<boolean> {
    const results = await Promise.allSettled(wanting.map(async (c) => c.handle(event)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${wanting[i].name}: ${message(r.reason)}`] : []));
    if (failed.length > 0) {
      this.logger.warn(`${event.type} of ${'call_log_id' in event ? `call ${event.call_log_id}` : `schedule ${event.schedule_id}`} not fully handled${storedId ? ' (the relay pass will retry)' : ''}: ${failed.join('; ')}`);
      return false;
    }
    if (storedId) await this.pending.release(storedId).catch((error: unknown) => this.logger.warn(`relay entry ${storedId} not released (handled again later): ${message(error)}`));
    return true;
  }

  // Lets consumers already running finish before the connection closes; later ones are left to the pass.
  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    await this.inFlight.drain(Date.now() + Math.min(this.config.scheduler.shutdownTimeoutMs, 5000));
  }
}
