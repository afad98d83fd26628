import { Injectable } from '@nestjs/common';
import { DomainEventPublisher } from '../notification/domain-event.publisher';
import { ScheduleChangedEvent, ScheduleEventName } from '../notification/domain-events';
import { scheduleChanged } from './schedule-changed';
import { ScheduleEventRepository } from './schedule-event.repository';
import { EventLevel, Schedule } from './schedule.types';

// One domain event a schedule change causes: its notification (stream, webhooks, in-process handlers),
// its history entry, or both.
export interface ScheduleChangeEvent {
  notify: ScheduleEventName | null;
  notifyData?: Record<string, unknown>;
  history: {
    type: string;
    level: EventLevel;
    message: string;
    data: Record<string, unknown>;
    // The entry records next_execution as the change left it (another write may have moved it since the
    // caller read the schedule).
    withNextExecution?: boolean;
  } | null;
}

// What a gated write of a schedule carries in its `outbox` field: the events of the change that made
// revision `rev`. It is part of the change the write gate records, so whoever writes the revision (its
// winner, or the waiter that takes over a dead winner's change) stores the same events first.
export interface ScheduleOutboxRecord {
  rev: number;
  at: Date;
  events: ScheduleChangeEvent[];
}

export interface ScheduleChange {
  at: Date;
  events: ScheduleChangeEvent[];
}

// A new schedule's change: its schedule.created and its `created` history entry (with next_execution).
export function creationOf(at: Date, message: string, data: Record<string, unknown> = {}): ScheduleChange {
  return { at, events: [{ notify: 'schedule.created', history: { type: 'created', level: 'info', message, data, withNextExecution: true } }] };
}

// Stored notifications wait here between the store and the write, to be published after it; entries
// whose write never came (the schedule was deleted meanwhile) are dropped after this long.
const PENDING_MS = 60_000;

// The schedule's outbox relay. A change's events are stored before the schedule is written (the
// repository's write-gate hooks call `store`), under keys of the revision, so a repeat stores nothing
// twice and a crash after the write loses nothing; `publish` runs the in-process handlers and first
// webhook attempts once the write is made.
@Injectable()
export class ScheduleOutbox {
  private readonly pending = new Map<string, { events: ScheduleChangedEvent[]; at: number }>();

  constructor(
    private readonly history: ScheduleEventRepository,
    private readonly publisher: DomainEventPublisher,
  ) {}

  // A gated change's events (the repository's beforeWrite), held for `publish` after the write.
  async store(schedule: Schedule, outbox: ScheduleOutboxRecord): Promise<void> {
    const notices = await this.storeEvents(schedule, outbox, 'id');
    const now = Date.now();
    for (const [key, held] of this.pending) if (now - held.at > PENDING_MS) this.pending.delete(key);
    if (notices.length > 0) this.pending.set(`${schedule.id}:${outbox.rev}`, { events: notices, at: now });
  }

  // The history entries go together, beside the notifications, which go one after another so that their
  // ids (the stream's order) follow the change's order. Returns the stored notifications, to be published.
  private async storeEvents(schedule: Schedule, outbox: ScheduleOutboxRecord, createdBy: 'id' | 'key'): Promise<ScheduleChangedEvent[]> {
    const at = new Date(outbox.at);
    const histories = Promise.all(
      outbox.events.map(({ history }, i) =>
        history
          ? this.history.appendOnce(schedule, `change|${outbox.rev}|${i}`, at, history.level, history.type, history.message, {
              ...history.data,
              ...(history.withNextExecution ? { next_execution: schedule.next_execution } : {}),
            })
          : undefined,
      ),
    );
    const notices: ScheduleChangedEvent[] = [];
    const notifications = (async () => {
      for (const [i, { notify, notifyData }] of outbox.events.entries()) {
        if (!notify) continue;
        const event = scheduleChanged(notify, schedule, at, notifyData ?? {});
        // A new schedule's one notification takes the schedule's id, minted just before its insert: unique,
        // the same on a repeat, and no key to insert first (one command less on every create). Not an id
        // derived from a request's Idempotency-Key (a bulk's): its time bytes are a hash, and the stream
        // reads events in id order.
        if (outbox.rev === 0 && i === 0 && createdBy === 'id') await this.publisher.storeWithId(event, schedule.id);
        else await this.publisher.storeOnce(event, `schedule_change|${schedule.id}|${outbox.rev}|${i}`);
        notices.push(event);
      }
    })();
    await Promise.all([histories, notifications]);
    return notices;
  }

  publish(scheduleId: string, rev: number): void {
    const key = `${scheduleId}:${rev}`;
    const held = this.pending.get(key);
    this.pending.delete(key);
    this.publishAll(held?.events ?? []);
  }

  // A new schedule's events: stored after its insert (an insert has no gate to record them first), by
  // `POST /schedule/` after it answers (ScheduleCreationRelay). A crash in between is repaired by the
  // client's retry under its Idempotency-Key (the replay stores them again, once) or by the reconcile pass,
  // from the create's marker (ScheduleRepository.markCreating).
  async recordCreated(schedule: Schedule, change: ScheduleChange, publish = true): Promise<void> {
    const events = await this.storeCreated(schedule, change, 'id');
    if (publish) this.publishAll(events);
  }

  // recordCreated's store alone: the caller publishes the events it returns (a bulk, in slices after its
  // response).
  storeCreated(schedule: Schedule, change: ScheduleChange, createdBy: 'id' | 'key'): Promise<ScheduleChangedEvent[]> {
    return this.storeEvents(schedule, { rev: 0, ...change }, createdBy);
  }

  publishAll(events: ScheduleChangedEvent[]): void {
    for (const event of events) this.publisher.publish(event);
  }
}
