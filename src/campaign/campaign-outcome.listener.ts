import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { type CallChangedEvent, isFinalCallEvent, type ScheduleChangedEvent } from '../notification/domain-events';
import { CampaignRunner } from './campaign-runner.service';

// Besides a final call outcome (isFinalCallEvent): a skip, an unknown dial (its campaign seat is given back
// at once), or the end of the attempt's schedule.
const ENDINGS = new Set(['call.skipped', 'call.unknown', 'schedule.completed', 'schedule.missed', 'schedule.failed', 'schedule.cancelled']);

// The fast path: an attempt's end is learned from the in-process domain event, and the campaign moves
// on at once. Events are lost on a crash; the campaign tick settles the same attempts from the database.
@Injectable()
export class CampaignOutcomeListener {
  private readonly logger = new Logger(CampaignOutcomeListener.name);

  constructor(private readonly runner: CampaignRunner) {}

  @OnEvent('call.*', { async: true, promisify: true, suppressErrors: true })
  onCall(event: CallChangedEvent): Promise<void> {
    return this.onEnding(event.type, event.schedule_id);
  }

  // A schedule's event says whether it is a campaign attempt's; a call's does not, and is looked up.
  @OnEvent('schedule.*', { async: true, promisify: true, suppressErrors: true })
  onSchedule(event: ScheduleChangedEvent): Promise<void> {
    return event.campaign_id === null ? Promise.resolve() : this.onEnding(event.type, event.schedule_id);
  }

  private async onEnding(type: string, scheduleId: string | null): Promise<void> {
    if (!(isFinalCallEvent(type) || ENDINGS.has(type)) || !scheduleId) return;
    try {
      if (type === 'call.unknown') await this.runner.releaseSeatBySchedule(scheduleId);
      const campaignId = await this.runner.settleBySchedule(scheduleId);
      if (campaignId) await this.runner.advance(campaignId, false);
    } catch (error) {
      this.logger.warn(`campaign follow-up of ${type} for schedule ${scheduleId} failed (the tick will retry): ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
