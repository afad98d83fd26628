import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { type DomainEvent, isFinalCallEvent } from '../../notification/domain-events';
import { DurableConsumer, DurableEventConsumer } from '../../notification/event-relay.service';
import { CallLeaseRepository } from './call-lease.repository';

// A call's concurrency seat is given back when its final status is recorded, through the event relay, so a
// crash before the release does not hold the seat until it expires. An unknown dial keeps its seat (the
// call may be live at the provider) until it is settled or the seat expires. Releasing twice frees nothing
// more.
@Injectable()
@DurableConsumer()
export class CallSeatReleaser implements DurableEventConsumer {
  readonly name = 'call seat release';

  constructor(
    private readonly leases: CallLeaseRepository,
    private readonly config: AppConfig,
  ) {}

  wants(event: DomainEvent): boolean {
    return this.config.dialing.maxConcurrentCalls > 0 && isFinalCallEvent(event.type) && 'call_log_id' in event;
  }

  async handle(event: DomainEvent): Promise<void> {
    if ('call_log_id' in event) await this.leases.releaseFor(event.call_log_id);
  }
}
