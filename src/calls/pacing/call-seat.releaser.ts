import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { AppConfig } from '../../config/app-config';
import type { CallChangedEvent } from '../../notification/domain-events';
import { CallLeaseRepository } from './call-lease.repository';

const FINAL_EVENTS = new Set(['call.completed', 'call.busy', 'call.no_answer', 'call.failed']);

// A call's concurrency seat is given back when its final status is recorded.
@Injectable()
export class CallSeatReleaser {
  constructor(
    private readonly leases: CallLeaseRepository,
    private readonly config: AppConfig,
  ) {}

  @OnEvent('call.*', { async: true, promisify: true, suppressErrors: true })
  async onCallChanged(event: CallChangedEvent): Promise<void> {
    if (this.config.dialing.maxConcurrentCalls <= 0 || !FINAL_EVENTS.has(event.type)) return;
    await this.leases.releaseFor(event.call_log_id);
  }
}
