import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { CallChangedEvent } from '../../notification/domain-events';
import { AGENT_HANDOFF_SOURCE, StatusUpdateService } from '../status-update.service';

// A call an agent backend accepted is handed to its agent: the attempt ends completed, through the same
// path as a final callback (log, schedule outcome, call.completed, seats, campaign). The event is lost on a
// crash; the reconciler then finds the call still queued and the provider's lookup answers completed.
@Injectable()
export class AgentHandoffListener {
  private readonly logger = new Logger(AgentHandoffListener.name);

  constructor(private readonly statusUpdates: StatusUpdateService) {}

  @OnEvent('call.dispatched', { async: true, promisify: true, suppressErrors: true })
  async onDispatched(event: CallChangedEvent): Promise<void> {
    if (event.data.handed_off !== true || !event.call_id) return;
    try {
      await this.statusUpdates.applyReport(
        { callId: event.call_id, status: 'completed', providerStatus: 'completed', sequence: null, at: null, duration: null, answeredBy: null, errorCode: null, errorMessage: null },
        event.call_log_id,
        AGENT_HANDOFF_SOURCE,
      );
    } catch (error) {
      this.logger.warn(`hand-off of call ${event.call_id} not recorded yet (the reconciler will): ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
