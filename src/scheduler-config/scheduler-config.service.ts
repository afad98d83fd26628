import { Injectable } from '@nestjs/common';
import { DateTime } from 'luxon';
import { CampaignAttemptRepository } from '../campaign/campaign-attempt.repository';
import { CampaignContactRepository } from '../campaign/campaign-contact.repository';
import { CampaignRunner, NOT_BEFORE_RELEASE } from '../campaign/campaign-runner.service';
import { CampaignRepository } from '../campaign/campaign.repository';
import { Campaign, CampaignContact } from '../campaign/campaign.types';
import { Clock } from '../common/clock/clock';
import { retryOnLockContention } from '../common/mongo/mongo-query';
import { compileRecurrence, InvalidRepeatConfigError, wallTimeToInstant } from '../schedule/recurrence/recurrence';
import { DailyRunSchedule, nextBatchRun } from './daily-run.schedule';
import { UpdateSchedulerConfigDto } from './dto/scheduler-config.dto';
import { SchedulerRequestException } from './scheduler-config.exceptions';
import { SchedulerConfigRepository } from './scheduler-config.repository';
import { BatchReason, DEFAULT_SCHEDULER_SETTINGS, SchedulerConfig, StoredBatchEntry } from './scheduler-config.types';

const CANDIDATE_BATCH = 2000;
const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

export { nextBatchRun };

export interface DailyStats {
  today: string;
  timezone: string;
  scheduled_today: number;
  completed_today: number;
  failed_today: number;
  pending_today: number;
  total_pending: number;
  next_run_at: string | null;
  scheduler_enabled: boolean;
}

// One run's overrides (trigger-now): `days` replaces each campaign's window, `maxCalls` caps this run's releases.
export interface SelectionOptions {
  days?: number;
  maxCalls?: number;
}

export interface PendingContact {
  contact: CampaignContact;
  campaign: Campaign;
  days_to_due: number;
}

export const ENTRY_STATUSES = ['pending', 'queued', 'completed', 'failed', 'cancelled'] as const;
export type EntryStatus = (typeof ENTRY_STATUSES)[number];

export interface ScheduledCall {
  entry: StoredBatchEntry;
  status: EntryStatus;
  contact: CampaignContact | null;
  // The contact's first attempt after the entry was made, when there is one.
  call_log_id: string | null;
}

export interface ScheduleCallRequest {
  contact_id: string;
  day: string;
  time?: string;
  reason: BatchReason;
  priority?: number;
  notes?: string;
}

// What became of a contact released or booked for a day.
function entryStatus(entry: StoredBatchEntry, contact: CampaignContact | undefined, now: Date): EntryStatus {
  if (entry.cancelled_at || !contact) return 'cancelled';
  if (contact.status === 'completed') return 'completed';
  if (contact.status === 'in_progress') return 'queued';
  const attemptedSince = contact.last_attempt_at !== null && contact.last_attempt_at.getTime() >= entry.created_at.getTime();
  if (attemptedSince) return 'failed';
  return entry.release_at && entry.release_at.getTime() > now.getTime() ? 'pending' : 'queued';
}

// The renewal auto-scheduler's daily batch on top of campaigns: each run releases the contacts of due-date
// campaigns (call_days_before) whose due_date is near, within the tenant's daily limits; the campaign then
// dials them under its own window, caps and retry rules.
@Injectable()
export class SchedulerConfigService {
  constructor(
    private readonly repository: SchedulerConfigRepository,
    private readonly campaigns: CampaignRepository,
    private readonly contacts: CampaignContactRepository,
    private readonly attempts: CampaignAttemptRepository,
    private readonly runner: CampaignRunner,
    private readonly dailyRuns: DailyRunSchedule,
    private readonly clock: Clock,
  ) {}

  get(tenantId: string): Promise<SchedulerConfig> {
    return this.dailyRuns.configOf(tenantId);
  }

  async update(tenantId: string, dto: UpdateSchedulerConfigDto): Promise<SchedulerConfig> {
    const timezone = dto.timezone ?? (await this.get(tenantId)).timezone;
    // Checked before anything is saved: a cron expression that does not parse or never fires is refused whole.
    if (dto.cron_schedule) {
      try {
        compileRecurrence(this.clock.now(), timezone, { enabled: true, frequency: 'cron', cron: dto.cron_schedule });
      } catch (error) {
        if (error instanceof InvalidRepeatConfigError) throw new SchedulerRequestException('SCHEDULE_005', 'cron_schedule', error.message.replace('repeat_config.cron', 'cron_schedule'));
        throw error;
      }
    }
    const saved = await this.repository.mergeConfig(tenantId, DEFAULT_SCHEDULER_SETTINGS, dto, this.clock.now());
    await this.dailyRuns.arm(saved);
    return saved;
  }

  nextRun(config: SchedulerConfig): Date | null {
    return config.enabled ? nextBatchRun(config, this.clock.now()) : null;
  }

  // Agenda runs on the wall clock; the service reads the injectable one.
  wallClock(at: Date): Date {
    return this.dailyRuns.wallClock(at);
  }

  private today(config: SchedulerConfig): string {
    return DateTime.fromJSDate(this.clock.now(), { zone: config.timezone }).toISODate()!;
  }

  // The due dates a campaign's run selects: today to today+N (`within`), or today+N alone (`exactly`).
  private dueRange(campaign: Campaign, config: SchedulerConfig, today: string, days: number | undefined): [string, string] {
    const n = days ?? config.days_before_due ?? campaign.call_days_before!;
    const last = DateTime.fromISO(today, { zone: config.timezone }).plus({ days: n }).toISODate()!;
    return (campaign.due_date_match ?? 'within') === 'exactly' ? [last, last] : [today, last];
  }

  private candidates(campaign: Campaign, range: [string, string], limit: number): Promise<CampaignContact[]> {
    return this.contacts.findDueWithin(campaign.id, range[0], range[1], limit, campaign.required_contact_status ?? null);
  }

  // Releases today's contacts; returns how many were queued.
  async runSelection(tenantId: string, options: SelectionOptions = {}): Promise<number> {
    const config = await this.get(tenantId);
    const now = this.clock.now();
    const today = this.today(config);
    let full = false;
    let queued = 0;
    for (const campaign of await this.campaigns.listRunningDueDateCampaigns(tenantId)) {
      if (full) break;
      const candidates = await this.candidates(campaign, this.dueRange(campaign, config, today, options.days), CANDIDATE_BATCH);
      let released = 0;
      for (const contact of candidates) {
        if (options.maxCalls !== undefined && queued >= options.maxCalls) {
          full = true;
          break;
        }
        if (!this.eligible(contact, campaign.max_attempts, config, now)) continue;
        // Two unique inserts decide, so concurrent runs neither release a contact twice a day nor exceed the
        // day's cap together: the (contact, day) entry, then one of the day's max_calls_per_day slots.
        const won = await retryOnLockContention(() =>
          this.repository.insertEntry({ tenant_id: tenantId, campaign_id: campaign.id, contact_id: contact.id, day: today, created_at: now, reason: 'due_date', release_at: now }),
        );
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

  // What a run would release now (without the daily cap), soonest due first: nothing is written.
  async pendingContacts(tenantId: string, options: { days?: number; limit: number }): Promise<PendingContact[]> {
    const config = await this.get(tenantId);
    const now = this.clock.now();
    const today = this.today(config);
    const todays = new Set((await this.repository.entriesForDay(tenantId, today)).filter((e) => !e.cancelled_at).map((e) => e.contact_id));
    const out: PendingContact[] = [];
    for (const campaign of await this.campaigns.listRunningDueDateCampaigns(tenantId)) {
      for (const contact of await this.candidates(campaign, this.dueRange(campaign, config, today, options.days), CANDIDATE_BATCH)) {
        if (todays.has(contact.id) || !this.eligible(contact, campaign.max_attempts, config, now)) continue;
        const days = Math.round(DateTime.fromISO(contact.due_date!, { zone: config.timezone }).diff(DateTime.fromISO(today, { zone: config.timezone }), 'days').days);
        out.push({ contact, campaign, days_to_due: days });
      }
    }
    out.sort((a, b) => a.days_to_due - b.days_to_due || a.contact.id.localeCompare(b.contact.id));
    return out.slice(0, options.limit);
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

  // Books a due-date contact for a day (and time, else at once on today or the batch time of a later day).
  // The (contact, day) entry is the booking; the contact is then released from that instant.
  async scheduleCall(tenantId: string, request: ScheduleCallRequest): Promise<ScheduledCall> {
    const config = await this.get(tenantId);
    const now = this.clock.now();
    const contact = await this.contacts.findById(request.contact_id);
    if (!contact || contact.tenant_id !== tenantId) throw new SchedulerRequestException('SCHEDULER_002', 'contact_id', `No contact ${request.contact_id} for this caller`);
    const campaign = await this.campaigns.findById(contact.campaign_id);
    if (!campaign || campaign.call_days_before === null || campaign.status === 'cancelled') {
      throw new SchedulerRequestException('SCHEDULER_003', 'contact_id', 'Only contacts of due-date campaigns that are not cancelled can be scheduled');
    }
    if (contact.status !== 'pending' && contact.status !== 'not_reached') {
      throw new SchedulerRequestException('SCHEDULER_003', 'contact_id', `The contact is ${contact.status}`);
    }
    if (!DateTime.fromISO(request.day).isValid) throw new SchedulerRequestException('CAMPAIGN_006', 'scheduled_date', 'scheduled_date is not a calendar date');
    const today = this.today(config);
    if (request.day < today) throw new SchedulerRequestException('CAMPAIGN_006', 'scheduled_date', `scheduled_date is before today (${today} in ${config.timezone})`);
    const [y, m, d] = request.day.split('-').map(Number);
    const [h, min] = (request.time ?? (request.day === today ? '00:00' : config.daily_call_time)).split(':').map(Number);
    const wanted = wallTimeToInstant(config.timezone, y, m, d, h, min);
    const releaseAt = wanted.getTime() < now.getTime() ? now : wanted;
    const entry = { tenant_id: tenantId, campaign_id: campaign.id, contact_id: contact.id, day: request.day, created_at: now, reason: request.reason, release_at: releaseAt, priority: request.priority ?? 0, notes: request.notes ?? null };
    if (!(await retryOnLockContention(() => this.repository.insertEntry(entry)))) {
      throw new SchedulerRequestException('SCHEDULER_003', 'scheduled_date', `The contact is already scheduled on ${request.day}`);
    }
    if (!(await retryOnLockContention(() => this.contacts.release(contact.id, now, releaseAt)))) {
      await this.repository.deleteEntry(contact.id, request.day);
      throw new SchedulerRequestException('SCHEDULER_003', 'contact_id', 'The contact is no longer waiting to be called');
    }
    if (campaign.status === 'running') await this.runner.advance(campaign.id);
    const stored = (await this.repository.findEntries(tenantId, { day: request.day, contact_id: contact.id }, 1))[0];
    return { entry: stored, status: entryStatus(stored, contact, now), contact, call_log_id: null };
  }

  async listScheduledCalls(tenantId: string, filter: { day?: string; contact_id?: string; reason?: BatchReason; status?: EntryStatus; limit: number }): Promise<ScheduledCall[]> {
    const now = this.clock.now();
    // Status is derived from the contact, so it is filtered here, over a bounded read.
    const entries = await this.repository.findEntries(tenantId, filter, filter.status ? 10_000 : filter.limit);
    const contacts = new Map((await this.contacts.findByIds([...new Set(entries.map((e) => e.contact_id))])).map((c) => [c.id, c]));
    const calls = entries.map((entry) => {
      const contact = contacts.get(entry.contact_id);
      return { entry, status: entryStatus(entry, contact, now), contact: contact ?? null, call_log_id: null };
    });
    return (filter.status ? calls.filter((c) => c.status === filter.status) : calls).slice(0, filter.limit);
  }

  // A booking not dialed yet is cancelled and its contact waits for the daily batch again.
  async cancelScheduledCall(tenantId: string, id: string): Promise<ScheduledCall> {
    const entry = await this.repository.findEntry(tenantId, id);
    if (!entry) throw new SchedulerRequestException('SCHEDULER_001', 'id', `No scheduled call ${id} for this caller`);
    const now = this.clock.now();
    const contact = (await this.contacts.findById(entry.contact_id)) ?? undefined;
    const status = entryStatus(entry, contact, now);
    if (status === 'cancelled') return { entry, status, contact: contact ?? null, call_log_id: null };
    const undialed = (status === 'pending' || status === 'queued') && contact && contact.status !== 'in_progress';
    if (!undialed || !entry.release_at || !(await retryOnLockContention(() => this.contacts.unrelease(contact.id, entry.release_at!, now, NOT_BEFORE_RELEASE)))) {
      throw new SchedulerRequestException('SCHEDULER_004', 'id', `The scheduled call is ${status === 'pending' || status === 'queued' ? 'already being dialed' : status}`);
    }
    await this.repository.markEntryCancelled(entry.id, now);
    const cancelled = { ...entry, cancelled_at: now };
    return { entry: cancelled, status: 'cancelled', contact, call_log_id: null };
  }

  async stats(tenantId: string): Promise<DailyStats> {
    const config = await this.get(tenantId);
    const now = this.clock.now();
    const today = this.today(config);
    // Open entries of any day still kept (cleanup removes old ones): what is booked or released and not dialed.
    const entries = (await this.repository.findEntries(tenantId, {}, 100_000)).filter((e) => !e.cancelled_at);
    const contacts = new Map((await this.contacts.findByIds([...new Set(entries.map((e) => e.contact_id))])).map((c) => [c.id, c]));
    const counts = { scheduled: 0, completed: 0, failed: 0, pending: 0, total_pending: 0 };
    for (const entry of entries) {
      const status = entryStatus(entry, contacts.get(entry.contact_id), now);
      const open = status === 'pending' || status === 'queued';
      if (open) counts.total_pending++;
      if (entry.day !== today) continue;
      counts.scheduled++;
      if (status === 'completed') counts.completed++;
      else if (status === 'failed') counts.failed++;
      else if (open) counts.pending++;
    }
    const next = this.nextRun(config);
    return {
      today,
      timezone: config.timezone,
      scheduled_today: counts.scheduled,
      completed_today: counts.completed,
      failed_today: counts.failed,
      pending_today: counts.pending,
      total_pending: counts.total_pending,
      next_run_at: next ? next.toISOString() : null,
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
