import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { AppConfig } from '../../config/app-config';
import { type CallChangedEvent, isFinalCallEvent } from '../../notification/domain-events';
import { CallLeaseRepository } from './call-lease.repository';

// A call's concurrency seat is given back when its final status is recorded. An unknown dial keeps its seat
// (the call may be live at the provider) until it is settled or the seat expires.
@Injectable()
export class CallSeatReleaser {
  constructor(
    private readonly leases: CallLeaseRepository,
    private readonly config: AppConfig,
  ) {}

  @OnEvent('call.*', { async: true, promisify: true, suppressErrors: true })
  async onCallChanged(event: CallChangedEvent): Promise<void> {
    if (this.config.dialing.maxConcurrentCalls <= 0 || !isFinalCallEvent(event.type)) return;
    await this.leases.releaseFor(event.call_log_id);
  }
}
