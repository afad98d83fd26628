import { EventEmitter2 } from '@nestjs/event-emitter';
import { InFlight } from '../../src/common/in-flight';
import { DomainEventPublisher } from '../../src/notification/domain-event.publisher';
import { DomainEvent } from '../../src/notification/domain-events';
import { EventRelay } from '../../src/notification/event-relay.service';
import { ScheduleCreationRelay } from '../../src/schedule/schedule-creation.relay';
import { NotificationService } from '../../src/notification/notification.service';
import { DueScheduleSweeper } from '../../src/schedule/dispatch/due-schedule.sweeper';
import { TestApp } from './test-app';
import { waitFor } from './wait';

// Conditions that say the background work of an app has finished, so that a test can wait for them
// instead of sleeping: a "nothing more happened" check belongs after the work that would have done it.

// The status webhook and the outcome sweep publish call events with setImmediate (after the response is
// written), queueing them before the request answers or the pass returns. Immediates run in the order
// they were queued, so once a response or a pass result is in hand, an immediate queued now runs after
// every event that request or pass will ever publish.
export function afterQueuedPublications(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// Until every dispatch this app's sweeper has started is over (timers armed for later due times aside).
export async function sweeperIdle(t: TestApp, timeoutMs = 20_000): Promise<void> {
  const sweeper = t.get<DueScheduleSweeper>(DueScheduleSweeper);
  await waitFor(async () => sweeper.backlog() === 0, timeoutMs, 20);
}

export interface EventWork {
  // Resolves once every listener of every domain event published so far has finished, the events those
  // listeners published in turn included.
  settled(timeoutMs?: number): Promise<void>;
  stop(): void;
}

// Makes the work domain events set off awaitable. The app's publisher emits with emit(), which returns
// nothing to wait on; here it emits with emitAsync(), which calls the very same listeners the same way
// (EventEmitter2's async option: each starts on the next setImmediate) and also returns a promise of
// the promisified ones (@OnEvent listeners). NotificationService's catch-all listener is not promisified:
// its work is the set of promises it keeps itself until they settle; so is the event relay's (the durable
// consumers: seats, campaigns, hand-offs), which publish() hands every event first, as the app's does, and
// so is the work a create leaves for after its answer (its events and audit entry).
export function trackEventWork(t: TestApp): EventWork {
  const publisher = t.get<DomainEventPublisher>(DomainEventPublisher);
  const emitter = t.get<EventEmitter2>(EventEmitter2);
  const notifications = t.get<NotificationService>(NotificationService);
  const relay = t.get<EventRelay>(EventRelay);
  const creations = t.get<ScheduleCreationRelay>(ScheduleCreationRelay);
  const listening = new InFlight();
  const original = Object.getOwnPropertyDescriptor(publisher, 'publish');
  publisher.publish = (event: DomainEvent): void => {
    relay.deliver(event);
    void listening.track(emitter.emitAsync(event.type, event).catch(() => undefined));
  };
  // A create's events, which it stores after its answer, count as work its request set off.
  const notificationWork = () => [...notifications['inFlight'].running(), ...relay['inFlight'].running(), ...creations['inFlight'].running()];
  return {
    async settled(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // Listeners queued by an event published just now start on the next setImmediate.
        await afterQueuedPublications();
        const pending = [...listening.running(), ...notificationWork()];
        if (pending.length === 0) return;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`event listeners still running after ${timeoutMs} ms`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled(pending), new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
        clearTimeout(timer);
      }
    },
    stop() {
      if (original) Object.defineProperty(publisher, 'publish', original);
      else delete (publisher as { publish?: unknown }).publish;
    },
  };
}
