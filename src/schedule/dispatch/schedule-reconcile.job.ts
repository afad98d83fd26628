import { Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { AppConfig } from '../../config/app-config';
import { JobOutcome, JobQueueService } from '../../jobs/job-queue.service';
import { CallLogRepository } from '../../tracking/call-log.repository';
import { OccurrenceClaimRepository } from '../occurrence-claim.repository';
import { ScheduleEventRepository } from '../schedule-event.repository';
import { ScheduleRepository } from '../schedule.repository';
import { nextWithinBounds } from '../schedule-timing';
import { RECONCILE_EVERY, RECONCILE_JOB } from '../schedule.constants';
import { DispatchTrigger } from './dispatch-trigger';

const BATCH = 200;

// Cluster-wide (one Agenda job, so one instance runs each tick):
//  - claims stuck between claim and dial (a crash) become `unknown`: visible, and never dialed again;
//  - schedules whose due time passed without a run get their job re-armed.
@Injectable()
export class ScheduleReconcileJob implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(ScheduleReconcileJob.name);

  constructor(
    private readonly jobs: JobQueueService,
    private readonly schedules: ScheduleRepository,
    private readonly claims: OccurrenceClaimRepository,
    private readonly events: ScheduleEventRepository,
    private readonly callLogs: CallLogRepository,
    private readonly trigger: DispatchTrigger,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.define(RECONCILE_JOB, () => this.handle(), { concurrency: 1 });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.scheduler.enabled) await this.jobs.every(RECONCILE_EVERY, RECONCILE_JOB);
  }

  async handle(): Promise<JobOutcome> {
    const stuck = await this.markStuckClaimsUnknown();
    const rearmed = await this.rearmOverdueSchedules();
    return { outcome: `stuck=${stuck} rearmed=${rearmed}` };
  }

  async markStuckClaimsUnknown(): Promise<number> {
    const now = this.clock.now();
    const before = new Date(now.getTime() - this.config.scheduler.unknownClaimAfterSeconds * 1000);
    const stuck = await this.claims.findStuck(before, BATCH);
    let count = 0;
    for (const claim of stuck) {
      // A claim that never reached `dialing` provably sent nothing: it is missed, not unknown.
      const neverSent = claim.state === 'claimed';
      const state = neverSent ? 'missed' : 'unknown';
      if (!(await this.claims.markState(claim.id, [claim.state], state, { detail: `stuck in ${claim.state} since ${claim.claimed_at.toISOString()}` }, now))) continue;
      count++;
      if (claim.call_log_id) {
        await this.callLogs.markAttemptEnded(claim.call_log_id, neverSent ? 'canceled' : 'unknown', { error_message: `dispatcher stopped while ${claim.state}` }, now);
      }
      const schedule = await this.schedules.findById(claim.schedule_id);
      if (schedule && schedule.status === 'scheduled' && schedule.next_execution?.getTime() === claim.occurrence_at.getTime()) {
        // The claimant died before advancing: move the schedule on so later occurrences still fire.
        const next = schedule.repeat_config ? nextWithinBounds(schedule, now, schedule.occurrence_count + 1) : null;
        const status = schedule.repeat_config ? (next ? 'scheduled' : 'completed') : neverSent ? 'missed' : 'failed';
        if (await this.schedules.advanceOccurrence(schedule.id, schedule.version, claim.occurrence_at, { next_execution: next, status, last_call_status: state, last_updated: now }, 1)) {
          await this.schedules.syncActive({ ...schedule, status, next_execution: next }, null, now);
          await this.trigger.arm(schedule.id, schedule.job_id, next);
        }
      }
      if (schedule) {
        await this.events.appendFor(
          schedule,
          now,
          'warn',
          neverSent ? 'occurrence_missed' : 'occurrence_unknown',
          `Occurrence ${claim.occurrence_at.toISOString()} was ${claim.state} when its dispatcher stopped; it is recorded ${state} and will not be redialed`,
          { occurrence_at: claim.occurrence_at.toISOString(), claim_state: claim.state, call_log_id: claim.call_log_id },
        );
      }
      this.logger.warn(`claim ${claim.id} (${claim.schedule_id} @ ${claim.occurrence_at.toISOString()}) marked ${state}`);
    }
    return count;
  }

  async rearmOverdueSchedules(): Promise<number> {
    const now = this.clock.now();
    const slack = Math.max(10_000, this.config.scheduler.pollIntervalMs * 5);
    const overdue = await this.schedules.findOverdue(new Date(now.getTime() - slack), BATCH);
    for (const schedule of overdue) {
      await this.trigger.armAt(schedule.id, schedule.job_id, now);
    }
    return overdue.length;
  }
}
