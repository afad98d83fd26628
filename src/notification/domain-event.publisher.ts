import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { DomainEvent } from './domain-events';

// Emitted only after the state change is persisted. Listener failures are logged, never propagated:
// a broken subscriber must not fail a dial or a webhook response.
@Injectable()
export class DomainEventPublisher {
  private readonly logger = new Logger(DomainEventPublisher.name);

  constructor(private readonly emitter: EventEmitter2) {}

  publish(event: DomainEvent): void {
    try {
      const results = this.emitter.emit(event.type, event);
      void results;
    } catch (error) {
      this.logger.warn(`listener for ${event.type} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
