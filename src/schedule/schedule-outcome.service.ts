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
  // Recorded in full before (the sweep repairing a status a racing write undid): nothing is announced again.
  announced?: boolean;
}

// The key a one-time schedule's end is announced under, at the version it ended in: whoever ends it (a
// final call outcome, or the reconciler for a dial whose outcome is unknown) stores its event once.
export function scheduleFinalKey(scheduleId: string, version: number): string {
  return `schedule_final|${scheduleId}|${version}`;
}

export function retryDelaySeconds(policy: RetryPolicy, failedAttempt: number): number {
  return policy.backoff === 'exponential' ? policy.delay_seconds * 2 ** (failedAttempt - 1) : policy.delay_seconds;
}

// How a call's final status feeds back into its schedule. Normally called once per call (the webhook
// calls it when its update moved the log into a final status), but also again for the same call: a
// redelivery or the outcome sweep finishing what a cut-off delivery left undone, or repairing a schedule
// that a racing dispatcher write put back to running. So every step is safe to repeat: the events are
// written once per call log (their ids derive from it, so a repeat is a refused unique insert, with no
// read first), the status moves are conditional, and a second retry job for the same attempt loses that
// attempt's unique occurrence claim.
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
    const lastError = outcome.status === 'completed' ? null : await this.errorOf(outcome);
    const progress = {
      last_call_status: outcome.status,
      ...(lastError ? { last_error: lastError } : {}),
      duration: outcome.duration,
      ...(outcome.callId ? { call_id: outcome.callId } : {}),
      last_updated: now,
    };
    // The event before the write: whoever reads the schedule ended finds why.
    await this.events.appendOnce(schedule, `call_final|${outcome.callLogId}`, now, outcome.status === 'completed' ? 'info' : 'warn', 'call_final', `Call ended ${outcome.status}`, {
      call_log_id: outcome.callLogId,
      call_id: outcome.callId,
      status: outcome.status,
      duration: outcome.duration,
    });
    const retry = await this.retryOf(schedule, outcome, now);
    if (schedule.repeat_config) {
      await this.schedules.recordCallProgress(schedule.id, null, progress);
      if (retry && schedule.status === 'scheduled') await this.scheduleRetry(schedule, outcome, retry, now);
      return;
    }
    // A one-time schedule's outcome is one write: with its end, or with its wait for the next attempt. One
    // that already read pending (a repeat of this outcome, or a deferred run whose running mark is still on
    // its way) keeps waiting; the fields are written either way.
    if (retry) {
      const waits = await this.schedules.recordCallOutcome(schedule.id, progress, 'pending', ['running', 'pending']);
      if (waits || schedule.status === 'pending') {
        await this.scheduleRetry(schedule, outcome, retry, now);
        return;
      }
    }
    const finalStatus: 'completed' | 'failed' = outcome.status === 'completed' ? 'completed' : 'failed';
    const moved = await this.schedules.recordCallOutcome(schedule.id, progress, finalStatus, ['pending', 'running']);
    if (outcome.announced) return;
    // Ended by this outcome now, or by this outcome's earlier try that stopped before its notification: the
    // event is stored before the caller marks the outcome recorded, under a key that a one-time schedule's
    // end (at this version) takes once, so a repeat neither loses nor doubles it. A refused move reads the
    // status again: the earlier try may have died after winning the write gate of the end, which the move
    // above then took over and wrote, after the read at the top.
    if (!moved && ((await this.schedules.findById(schedule.id))?.status !== finalStatus || !(await this.endedByThisCall(schedule.id, outcome.callLogId)))) return;
    const ended = { ...schedule, status: finalStatus, next_execution: null };
    const event =
      finalStatus === 'completed'
        ? scheduleChanged('schedule.completed', ended, now)
        : scheduleChanged('schedule.failed', ended, now, { last_error: lastError, last_call_status: outcome.status });
    await this.publisher.storeOnce(event, scheduleFinalKey(schedule.id, schedule.version));
    this.publisher.publish(event);
  }

  // Only a redo asks: the schedule's latest attempt is this call, so no later one (a dial the dispatcher
  // ended itself, say) ended the schedule and announced it.
  private async endedByThisCall(scheduleId: string, callLogId: string): Promise<boolean> {
    return (await this.callLogs.latestForSchedules([scheduleId])).get(scheduleId)?.id === callLogId;
  }

  private async errorOf(outcome: FinalCallOutcome): Promise<string> {
    const log = await this.callLogs.findById(outcome.callLogId);
    const detail = log?.error_message ?? (log?.error_code ? `error ${log.error_code}` : null);
    return `Call ended ${outcome.status}${detail ? `: ${detail}` : ''}`.slice(0, 500);
  }

  // The outcome sweep's input: one-time schedules still running, unchanged since `updatedBefore`, whose
  // latest call it checks.
  async runningOneTimeScheduleIds(afterId: string | null, limit: number, updatedBefore: Date): Promise<string[]> {
    return (await this.schedules.findRunningOneTime(afterId, limit, updatedBefore)).map((s) => s.id);
  }

  // The next attempt this outcome asks for, if its policy has one left; nothing is written.
  private async retryOf(schedule: Schedule, outcome: FinalCallOutcome, now: Date): Promise<{ payload: CallRetryPayload; runAt: Date } | null> {
    const policy = schedule.retry_policy;
    if (!policy || !(policy.retry_on as string[]).includes(outcome.status)) return null;
    const log = await this.callLogs.findById(outcome.callLogId);
    if (!log?.occurrence_at || log.attempt_number >= policy.max_attempts) return null;
    const runAt = new Date(now.getTime() + retryDelaySeconds(policy, log.attempt_number) * 1000);
    return { payload: { schedule_id: schedule.id, occurrence_at: log.occurrence_at.toISOString(), attempt_number: log.attempt_number + 1 }, runAt };
  }

  // Once the schedule waits for it (a one-time one reads pending; a paused or cancelled one takes none).
  private async scheduleRetry(schedule: Schedule, outcome: FinalCallOutcome, retry: { payload: CallRetryPayload; runAt: Date }, now: Date): Promise<void> {
    const policy = schedule.retry_policy!;
    const { payload, runAt } = retry;
    // The job is written before its event: a repeated outcome that finds the event finds the job too.
    const retryKey = `retry_scheduled|${outcome.callLogId}`;
    if (await this.events.wasAppended(schedule.id, retryKey)) return;
    await this.jobs.createJob(CALL_RETRY_JOB, payload, runAt);
    await this.events.appendOnce(schedule, retryKey, now, 'info', 'retry_scheduled', `Attempt ${payload.attempt_number} of ${policy.max_attempts} at ${runAt.toISOString()} after ${outcome.status}`, {
      call_log_id: outcome.callLogId,
      occurrence_at: payload.occurrence_at,
      attempt_number: payload.attempt_number,
      run_at: runAt.toISOString(),
      after_status: outcome.status,
    });
  }
}
