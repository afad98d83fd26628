import { Injectable } from '@nestjs/common';
import { type DomainEvent, isFinalCallEvent } from '../notification/domain-events';
import { DurableConsumer, DurableEventConsumer } from '../notification/event-relay.service';
import { CampaignRunner } from './campaign-runner.service';

// Besides a final call outcome (isFinalCallEvent): a skip, an unknown dial (its campaign seat is given back
// at once), or the end of the attempt's schedule.
const ENDINGS = new Set(['call.skipped', 'call.unknown', 'schedule.completed', 'schedule.missed', 'schedule.failed', 'schedule.cancelled']);

// An attempt's end moves its campaign on at once, through the event relay (run again after a crash, so
// each step is idempotent: a settled attempt is not settled twice). The campaign tick still settles attempts
// from the database for what no event reports.
@Injectable()
@DurableConsumer()
export class CampaignOutcomeListener implements DurableEventConsumer {
  readonly name = 'campaign progress';

  constructor(private readonly runner: CampaignRunner) {}

  // An event says whether its schedule is a campaign attempt's: a schedule's by its campaign, a call's by
  // its log (unknown for a log stored before logs kept it, and for a run that ended without a call: wanted,
  // and looked up).
  wants(event: DomainEvent): boolean {
    if (!(isFinalCallEvent(event.type) || ENDINGS.has(event.type)) || !event.schedule_id) return false;
    return 'call_log_id' in event ? event.for_campaign !== false : event.campaign_id !== null;
  }

  async handle(event: DomainEvent): Promise<void> {
    const scheduleId = event.schedule_id;
    if (!scheduleId) return;
    if (event.type === 'call.unknown') await this.runner.releaseSeatBySchedule(scheduleId);
    const campaignId = await this.runner.settleBySchedule(scheduleId);
    if (campaignId) await this.runner.advance(campaignId, false);
  }
}
