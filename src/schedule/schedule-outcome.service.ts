import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { DomainEventPublisher } from '../notification/domain-event.publisher';
import { scheduleChanged } from './schedule-changed';
import { ScheduleEventRepository } from './schedule-event.repository';
import { ScheduleRepository } from './schedule.repository';

export interface FinalCallOutcome {
  scheduleId: string;
  callLogId: string;
  callId: string | null;
  status: string;
  duration: number | null;
}

// How a call's final status feeds back into its schedule. Called once per call (the webhook only
// calls it when its update moved the log into a final status).
@Injectable()
export class ScheduleOutcomeService {
  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly events: ScheduleEventRepository,
    private readonly clock: Clock,
    private readonly publisher: DomainEventPublisher,
  ) {}

  async recordFinalCallStatus(outcome: FinalCallOutcome): Promise<void> {
    const schedule = await this.schedules.findById(outcome.scheduleId);
    if (!schedule) return;
    const now = this.clock.now();
    await this.schedules.recordCallProgress(schedule.id, null, {
      last_call_status: outcome.status,
      duration: outcome.duration,
      ...(outcome.callId ? { call_id: outcome.callId } : {}),
      last_updated: now,
    });
    let finalStatus: 'completed' | 'failed' | null = null;
    if (!schedule.repeat_config) {
      finalStatus = outcome.status === 'completed' ? 'completed' : 'failed';
      const moved = await this.schedules.recordCallProgress(schedule.id, ['pending', 'running'], { status: finalStatus });
      if (moved) await this.schedules.syncActive({ ...schedule, status: finalStatus }, null, now);
      else finalStatus = null;
    }
    await this.events.appendFor(schedule, now, outcome.status === 'completed' ? 'info' : 'warn', 'call_final', `Call ended ${outcome.status}`, {
      call_log_id: outcome.callLogId,
      call_id: outcome.callId,
      status: outcome.status,
      duration: outcome.duration,
    });
    if (finalStatus === 'completed') {
      this.publisher.publish(scheduleChanged('schedule.completed', { ...schedule, status: 'completed', next_execution: null }, now));
    }
  }
}
