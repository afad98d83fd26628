import { Injectable } from '@nestjs/common';
import { DateTime } from 'luxon';
import { Clock } from '../common/clock/clock';
import { JobQueueService } from '../jobs/job-queue.service';
import { compileRecurrence, nextOccurrence } from '../schedule/recurrence/recurrence';
import { SchedulerConfigRepository } from './scheduler-config.repository';
import { DAILY_RUN_JOB, DEFAULT_SCHEDULER_SETTINGS, SchedulerConfig } from './scheduler-config.types';

type RunTiming = Pick<SchedulerConfig, 'daily_call_time' | 'timezone' | 'cron_schedule'>;

// The batch's next run after `after`: the cron expression's next firing in the tenant's timezone when one is
// set, else daily_call_time there. Null for a cron expression that never fires again.
export function nextBatchRun(config: RunTiming, after: Date): Date | null {
  if (config.cron_schedule) {
    const rec = compileRecurrence(after, config.timezone, { enabled: true, frequency: 'cron', cron: config.cron_schedule });
    return nextOccurrence(rec, after);
  }
  const [hour, minute] = config.daily_call_time.split(':').map(Number);
  const local = DateTime.fromJSDate(after, { zone: config.timezone });
  let run = local.set({ hour, minute, second: 0, millisecond: 0 });
  if (run.toMillis() <= after.getTime()) run = local.plus({ days: 1 }).set({ hour, minute, second: 0, millisecond: 0 });
  return run.toJSDate();
}

// The tenant's `scheduler.daily_run` job. It lives beside the settings (not in the scheduler-config module)
// so that starting a due-date campaign can arm it without the campaign module depending on the batch.
@Injectable()
export class DailyRunSchedule {
  constructor(
    private readonly repository: SchedulerConfigRepository,
    private readonly jobs: JobQueueService,
    private readonly clock: Clock,
  ) {}

  async configOf(tenantId: string): Promise<SchedulerConfig> {
    return (await this.repository.findConfig(tenantId)) ?? { tenant_id: tenantId, ...DEFAULT_SCHEDULER_SETTINGS, updated_at: null };
  }

  // Moves the job to the config's next run (idle while disabled).
  async arm(config: SchedulerConfig): Promise<void> {
    const key = { tenant_id: config.tenant_id };
    await this.jobs.upsertUnique(DAILY_RUN_JOB, key, key, this.nextWallRun(config));
  }

  // A tenant with a due-date campaign and no saved configuration runs on the defaults: its job is created
  // when missing; an existing one (armed, or idle because disabled) is left as it is.
  async ensureArmed(tenantId: string): Promise<void> {
    const config = await this.configOf(tenantId);
    if (!config.enabled) return;
    const key = { tenant_id: tenantId };
    await this.jobs.insertUniqueIfAbsent(DAILY_RUN_JOB, key, key, this.nextWallRun(config));
  }

  nextWallRun(config: SchedulerConfig): Date | null {
    if (!config.enabled) return null;
    const next = nextBatchRun(config, this.clock.now());
    return next ? this.wallClock(next) : null;
  }

  // Agenda runs on the wall clock; the service reads the injectable one. The service clock is read first:
  // time passing between the two reads then makes the wall time a millisecond late, never early (an early
  // one read 05:59:59.999 for a 06:00 run).
  wallClock(at: Date): Date {
    const serviceNow = this.clock.now().getTime();
    return new Date(Date.now() + (at.getTime() - serviceNow));
  }
}
