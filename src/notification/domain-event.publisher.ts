import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { DomainEvent } from './domain-events';
import { EventRelay } from './event-relay.service';
import { NotificationService } from './notification.service';

// Emitted only after the state change is persisted. Listener failures are logged, never propagated:
// a broken subscriber must not fail a dial or a webhook response.
@Injectable()
export class DomainEventPublisher {
  private readonly logger = new Logger(DomainEventPublisher.name);

  constructor(
    private readonly emitter: EventEmitter2,
    private readonly notifications: NotificationService,
    private readonly relay: EventRelay,
  ) {}

  // The event's durable part (SSE history, webhook deliveries), stored before the caller marks its state
  // change done; publish() afterwards runs the in-process handlers. Repeats with the same key store nothing twice.
  storeOnce(event: DomainEvent, key: string): Promise<void> {
    return this.notifications.recordOnce(event, key);
  }

  // storeOnce under an event id derived from the change, which needs no key.
  storeWithId(event: DomainEvent, eventId: string): Promise<void> {
    return this.notifications.recordWithId(event, eventId);
  }

  // The in-process handlers and channels, and the durable consumers (which a stored event's relay entry
  // brings back after a crash).
  publish(event: DomainEvent): void {
    this.relay.deliver(event);
    try {
      const results = this.emitter.emit(event.type, event);
      void results;
    } catch (error) {
      this.logger.warn(`listener for ${event.type} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
