import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { JobQueueService } from '../jobs/job-queue.service';
import { DomainEventPublisher } from '../notification/domain-event.publisher';
import { CallLogRepository } from '../tracking/call-log.repository';
import { CallRetryPayload } from './dispatch/call-retry.payload';
import { scheduleChanged } from './schedule-changed';
import { CALL_RETRY_JOB } from './schedule.constants';
import { ScheduleEventRepository } from './schedule-event.repository';
import { ScheduleRepository } from './schedule.repository';
import { RetryPolicy, Schedule } from './schedule.types';

export interface FinalCallOutcome {
  scheduleId: string;
  callLogId: string;
  callId: string | null;
  status: string;
  duration: number | null;
}

export function retryDelaySeconds(policy: RetryPolicy, failedAttempt: number): number {
  return policy.backoff === 'exponential' ? policy.delay_seconds * 2 ** (failedAttempt - 1) : policy.delay_seconds;
}

// How a call's final status feeds back into its schedule. Called once per call (the webhook only
// calls it when its update moved the log into a final status), so a retry is scheduled at most once.
@Injectable()
export class ScheduleOutcomeService {
  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly events: ScheduleEventRepository,
    private readonly callLogs: CallLogRepository,
    private readonly jobs: JobQueueService,
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
    await this.events.appendFor(schedule, now, outcome.status === 'completed' ? 'info' : 'warn', 'call_final', `Call ended ${outcome.status}`, {
      call_log_id: outcome.callLogId,
      call_id: outcome.callId,
      status: outcome.status,
      duration: outcome.duration,
    });
    if (await this.scheduleRetry(schedule, outcome, now)) return;

    let finalStatus: 'completed' | 'failed' | null = null;
    if (!schedule.repeat_config) {
      finalStatus = outcome.status === 'completed' ? 'completed' : 'failed';
      const moved = await this.schedules.recordCallProgress(schedule.id, ['pending', 'running'], { status: finalStatus });
      if (moved) await this.schedules.syncActive({ ...schedule, status: finalStatus }, null, now);
      else finalStatus = null;
    }
    if (finalStatus === 'completed') {
      this.publisher.publish(scheduleChanged('schedule.completed', { ...schedule, status: 'completed', next_execution: null }, now));
    }
  }

  private async scheduleRetry(schedule: Schedule, outcome: FinalCallOutcome, now: Date): Promise<boolean> {
    const policy = schedule.retry_policy;
    if (!policy || !(policy.retry_on as string[]).includes(outcome.status)) return false;
    const log = await this.callLogs.findById(outcome.callLogId);
    if (!log?.occurrence_at || log.attempt_number >= policy.max_attempts) return false;
    // A one-time schedule waits for its next attempt; a paused or cancelled one takes none.
    if (!schedule.repeat_config) {
      if (!(await this.schedules.recordCallProgress(schedule.id, ['running', 'pending'], { status: 'pending' }))) return false;
      await this.schedules.syncActive({ ...schedule, status: 'pending' }, null, now);
    } else if (schedule.status !== 'scheduled') return false;
    const attempt = log.attempt_number + 1;
    const runAt = new Date(now.getTime() + retryDelaySeconds(policy, log.attempt_number) * 1000);
    const payload: CallRetryPayload = { schedule_id: schedule.id, occurrence_at: log.occurrence_at.toISOString(), attempt_number: attempt };
    await this.jobs.createJob(CALL_RETRY_JOB, payload, runAt);
    await this.events.appendFor(schedule, now, 'info', 'retry_scheduled', `Attempt ${attempt} of ${policy.max_attempts} at ${runAt.toISOString()} after ${outcome.status}`, {
      occurrence_at: payload.occurrence_at,
      attempt_number: attempt,
      run_at: runAt.toISOString(),
      after_status: outcome.status,
    });
    return true;
  }
}
