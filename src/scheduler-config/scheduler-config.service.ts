import { Injectable } from '@nestjs/common';
import { DateTime } from 'luxon';
import { CampaignAttemptRepository } from '../campaign/campaign-attempt.repository';
import { CampaignContactRepository } from '../campaign/campaign-contact.repository';
import { CampaignRunner } from '../campaign/campaign-runner.service';
import { CampaignRepository } from '../campaign/campaign.repository';
import { CampaignContact } from '../campaign/campaign.types';
import { Clock } from '../common/clock/clock';
import { retryOnLockContention } from '../common/mongo/mongo-query';
import { JobQueueService } from '../jobs/job-queue.service';
import { UpdateSchedulerConfigDto } from './dto/scheduler-config.dto';
import { SchedulerConfigRepository } from './scheduler-config.repository';
import { DAILY_RUN_JOB, DEFAULT_SCHEDULER_SETTINGS, SchedulerConfig } from './scheduler-config.types';

const CANDIDATE_BATCH = 2000;
const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

export interface DailyStats {
  today: string;
  timezone: string;
  scheduled_today: number;
  completed_today: number;
  failed_today: number;
  pending_today: number;
  next_run_at: string | null;
  scheduler_enabled: boolean;
}

export function nextDailyRun(config: Pick<SchedulerConfig, 'daily_call_time' | 'timezone'>, after: Date): Date {
  const [hour, minute] = config.daily_call_time.split(':').map(Number);
  const local = DateTime.fromJSDate(after, { zone: config.timezone });
  let run = local.set({ hour, minute, second: 0, millisecond: 0 });
  if (run.toMillis() <= after.getTime()) run = local.plus({ days: 1 }).set({ hour, minute, second: 0, millisecond: 0 });
  return run.toJSDate();
}

// The renewal auto-scheduler's daily batch on top of campaigns: each day it releases the contacts of
// due-date campaigns (call_days_before) whose due_date is near, within the tenant's daily limits; the
// campaign then dials them under its own window, caps and retry rules.
@Injectable()
export class SchedulerConfigService {
  constructor(
    private readonly repository: SchedulerConfigRepository,
    private readonly campaigns: CampaignRepository,
    private readonly contacts: CampaignContactRepository,
    private readonly attempts: CampaignAttemptRepository,
    private readonly runner: CampaignRunner,
    private readonly jobs: JobQueueService,
    private readonly clock: Clock,
  ) {}

  async get(tenantId: string): Promise<SchedulerConfig> {
    return (await this.repository.findConfig(tenantId)) ?? { tenant_id: tenantId, ...DEFAULT_SCHEDULER_SETTINGS, updated_at: null };
  }

  async update(tenantId: string, dto: UpdateSchedulerConfigDto): Promise<SchedulerConfig> {
    const saved = await this.repository.mergeConfig(tenantId, DEFAULT_SCHEDULER_SETTINGS, dto, this.clock.now());
    await this.armDailyRun(saved);
    return saved;
  }

  // The daily job of a tenant, at daily_call_time in the config's timezone; idle while disabled.
  async armDailyRun(config: SchedulerConfig): Promise<void> {
    const key = { tenant_id: config.tenant_id };
    await this.jobs.upsertUnique(DAILY_RUN_JOB, key, key, config.enabled ? this.wallClock(nextDailyRun(config, this.clock.now())) : null);
  }

  // Agenda runs on the wall clock; the service reads the injectable one.
  wallClock(at: Date): Date {
    return new Date(Date.now() + (at.getTime() - this.clock.now().getTime()));
  }

  // Releases today's contacts; returns how many were queued.
  async runSelection(tenantId: string): Promise<number> {
    const config = await this.get(tenantId);
    const now = this.clock.now();
    const today = DateTime.fromJSDate(now, { zone: config.timezone }).toISODate()!;
    let full = false;
    let queued = 0;
    for (const campaign of await this.campaigns.listRunningDueDateCampaigns(tenantId)) {
      if (full) break;
      const until = DateTime.fromISO(today, { zone: config.timezone }).plus({ days: campaign.call_days_before! }).toISODate()!;
      const candidates = await this.contacts.findDueWithin(campaign.id, today, until, CANDIDATE_BATCH);
      let released = 0;
      for (const contact of candidates) {
        if (!this.eligible(contact, campaign.max_attempts, config, now)) continue;
        // Two unique inserts decide, so concurrent runs neither release a contact twice a day nor exceed the
        // day's cap together: the (contact, day) entry, then one of the day's max_calls_per_day slots.
        const won = await retryOnLockContention(() => this.repository.insertEntry({ tenant_id: tenantId, campaign_id: campaign.id, contact_id: contact.id, day: today, created_at: now }));
        if (!won) continue;
        const slot = await retryOnLockContention(() => this.repository.takeReleaseSlot(tenantId, today, config.max_calls_per_day, contact.id, now));
        if (!slot) {
          await this.repository.deleteEntry(contact.id, today);
          full = true;
          break;
        }
        if (!(await retryOnLockContention(() => this.contacts.release(contact.id, now)))) {
          await this.repository.giveBackReleaseSlot(slot);
          await this.repository.deleteEntry(contact.id, today);
          continue;
        }
        queued++;
        released++;
      }
      if (released > 0) await this.runner.advance(campaign.id);
    }
    return queued;
  }

  private eligible(contact: CampaignContact, campaignMaxAttempts: number, config: SchedulerConfig, now: Date): boolean {
    const last = contact.last_attempt_at?.getTime() ?? null;
    if (last !== null && now.getTime() - last < config.skip_if_called_within_days * DAY_MS) return false;
    if (contact.status === 'not_reached') {
      if (contact.attempts > config.max_retries_per_contact || contact.attempts >= campaignMaxAttempts) return false;
      if (last !== null && now.getTime() - last < config.retry_failed_after_hours * HOUR_MS) return false;
    }
    return true;
  }

  async stats(tenantId: string): Promise<DailyStats> {
    const config = await this.get(tenantId);
    const now = this.clock.now();
    const today = DateTime.fromJSDate(now, { zone: config.timezone }).toISODate()!;
    const entries = await this.repository.entriesForDay(tenantId, today);
    const contacts = await this.contacts.findByIds(entries.map((e) => e.contact_id));
    let completed = 0;
    let failed = 0;
    let pending = 0;
    for (const contact of contacts) {
      // Released today: what became of it. A retry wait or a final miss both count as failed today.
      if (contact.status === 'completed') completed++;
      else if (contact.status === 'pending' || contact.status === 'in_progress' || (contact.status === 'not_reached' && contact.last_attempt_at === null)) pending++;
      else if (contact.last_attempt_at && contact.last_attempt_at.getTime() >= entries.find((e) => e.contact_id === contact.id)!.created_at.getTime()) failed++;
      else pending++;
    }
    return {
      today,
      timezone: config.timezone,
      scheduled_today: entries.length,
      completed_today: completed,
      failed_today: failed,
      pending_today: pending,
      next_run_at: config.enabled ? nextDailyRun(config, now).toISOString() : null,
      scheduler_enabled: config.enabled,
    };
  }

  // Finished records older than `days`: the daily batch's releases and settled campaign attempts.
  async cleanup(tenantId: string | null, days: number): Promise<{ batch_entries: number; campaign_attempts: number }> {
    const before = new Date(this.clock.now().getTime() - days * DAY_MS);
    const batchEntries = await this.repository.deleteEntriesBefore(tenantId, before);
    const attempts = await this.attempts.deleteSettledBefore(before, tenantId);
    // Daily-cap slots carry no tenant; only the cluster-wide job removes old days' slots.
    if (tenantId === null) await this.attempts.deleteDaySlotsBefore(before);
    return { batch_entries: batchEntries, campaign_attempts: attempts };
  }
}
