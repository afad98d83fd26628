import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Types } from 'mongoose';
import { AppConfig } from '../config/app-config';
import { NotificationEventRepository, StreamScope } from './notification-event.repository';
import { StoredEvent } from './notification.types';

const PAGE = 500;
// Re-read window of the tail: another instance's event can become visible a little after a later local
// one (ids carry each instance's clock), so the tail looks back and dedupes by id.
const LOOKBACK_SECONDS = 5;

export interface StreamSink {
  event(event: StoredEvent): void;
  end(): void;
}

interface StreamClient {
  scope: StreamScope;
  floor: string;
  sent: Map<string, number>;
  backlog: StoredEvent[] | null;
  sink: StreamSink;
}

const secondsOf = (id: string) => parseInt(id.slice(0, 8), 16);

// One tail of notification_events per instance, shared by every open stream: it sees events written by
// any instance, so a client gets its tenant's events wherever they were published.
@Injectable()
export class NotificationStreamService implements OnModuleDestroy {
  private readonly logger = new Logger(NotificationStreamService.name);
  private readonly clients = new Set<StreamClient>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private pollAgain = false;
  private closing = false;
  private highWaterSeconds = 0;

  constructor(
    private readonly events: NotificationEventRepository,
    private readonly config: AppConfig,
  ) {}

  // Without a Last-Event-ID the stream starts now; with one it first replays the retained history after it.
  async open(scope: StreamScope, lastEventId: string | null, sink: StreamSink): Promise<() => void> {
    // Shutting down: a stream opened now would hold its connection, and the HTTP server's close, until the
    // hard deadline. It ends at once; the client reconnects (elsewhere) with its Last-Event-ID.
    if (this.closing) {
      sink.end();
      return () => undefined;
    }
    const client: StreamClient = { scope, floor: lastEventId ?? new Types.ObjectId().toHexString(), sent: new Map(), backlog: [], sink };
    if (this.clients.size === 0) this.highWaterSeconds = Math.floor(Date.now() / 1000);
    this.clients.add(client);
    this.kick();
    try {
      if (lastEventId) {
        for (let after = lastEventId; ; ) {
          const page = await this.events.listAfter(scope, after, PAGE);
          for (const event of page) this.send(client, event);
          if (page.length < PAGE) break;
          after = page[page.length - 1].id;
        }
      }
    } finally {
      // Live events that arrived during the replay go out after it, deduped.
      const backlog = client.backlog ?? [];
      client.backlog = null;
      for (const event of backlog) this.send(client, event);
    }
    return () => {
      this.clients.delete(client);
    };
  }

  // A local publish wakes the tail at once instead of waiting for the next poll.
  kick(): void {
    if (this.clients.size === 0) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.schedule(0);
  }

  onModuleDestroy(): void {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const client of this.clients) client.sink.end();
    this.clients.clear();
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.clients.size === 0) return;
    this.polling = true;
    this.pollAgain = false;
    try {
      await this.poll();
    } catch (error) {
      this.logger.warn(`event tail failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.polling = false;
    }
    if (this.clients.size > 0) this.schedule(this.pollAgain ? 0 : this.config.notifications.streamPollMs);
  }

  private async poll(): Promise<void> {
    const all: StreamScope = { tenantId: '', allTenants: true };
    let after = Types.ObjectId.createFromTime(this.highWaterSeconds - LOOKBACK_SECONDS).toHexString();
    for (;;) {
      const page = await this.events.listAfter(all, after, PAGE);
      for (const event of page) {
        this.highWaterSeconds = Math.max(this.highWaterSeconds, secondsOf(event.id));
        for (const client of this.clients) this.offer(client, event);
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1].id;
    }
    const forgetBefore = this.highWaterSeconds - LOOKBACK_SECONDS - 2;
    for (const client of this.clients) {
      for (const [id, seconds] of client.sent) if (seconds < forgetBefore) client.sent.delete(id);
    }
  }

  private offer(client: StreamClient, event: StoredEvent): void {
    if (client.backlog) client.backlog.push(event);
    else this.send(client, event);
  }

  private send(client: StreamClient, event: StoredEvent): void {
    // The tenant check is the isolation guarantee: the tail reads every tenant's events.
    if (!client.scope.allTenants && event.tenant_id !== client.scope.tenantId) return;
    if (event.id <= client.floor || client.sent.has(event.id)) return;
    client.sent.set(event.id, secondsOf(event.id));
    client.sink.event(event);
  }
}
