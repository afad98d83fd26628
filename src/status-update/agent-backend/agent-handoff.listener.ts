import { Injectable } from '@nestjs/common';
import type { DomainEvent } from '../../notification/domain-events';
import { DurableConsumer, DurableEventConsumer } from '../../notification/event-relay.service';
import { AGENT_HANDOFF_SOURCE, StatusUpdateService } from '../status-update.service';

// A call an agent backend accepted is handed to its agent: the attempt ends completed, through the same
// path as a final callback (log, schedule outcome, call.completed, seats, campaign). Through the event
// relay, so a crash in between hands it off on the next pass; a repeat is a report the log already has.
@Injectable()
@DurableConsumer()
export class AgentHandoffListener implements DurableEventConsumer {
  readonly name = 'agent hand-off';

  constructor(private readonly statusUpdates: StatusUpdateService) {}

  wants(event: DomainEvent): boolean {
    return event.type === 'call.dispatched' && event.data.handed_off === true && 'call_log_id' in event && !!event.call_id;
  }

  async handle(event: DomainEvent): Promise<void> {
    if (!('call_log_id' in event) || !event.call_id) return;
    await this.statusUpdates.applyReport(
      { callId: event.call_id, status: 'completed', providerStatus: 'completed', sequence: null, at: null, duration: null, answeredBy: null, errorCode: null, errorMessage: null },
      event.call_log_id,
      AGENT_HANDOFF_SOURCE,
    );
  }
}
