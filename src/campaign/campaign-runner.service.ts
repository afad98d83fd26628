import { Injectable, Logger } from '@nestjs/common';
import { DateTime } from 'luxon';
import { dialFailureKind } from '../calls/provider-refusal';
import { CalleeTimezoneResolver } from '../calling-rules/callee-timezone.resolver';
import { isWithinWindow, nextWindowOpening } from '../calling-rules/calling-window';
import { Clock } from '../common/clock/clock';
import { retryOnLockContention } from '../common/mongo/mongo-query';
import { AppConfig } from '../config/app-config';
import { DncService } from '../dnc/dnc.service';
import { InternalScheduleRejectedError, InternalScheduleService, InternalScheduleState } from '../schedule/internal-schedule.service';
import { SchedulerConfigRepository } from '../scheduler-config/scheduler-config.repository';
import { DEFAULT_SCHEDULER_SETTINGS } from '../scheduler-config/scheduler-config.types';
import { attemptKey, CampaignAttemptRepository } from './campaign-attempt.repository';
import { CampaignContactRepository } from './campaign-contact.repository';
import { WITHDRAWAL_RECHECK_MS } from './campaign.constants';
import { CampaignRepository } from './campaign.repository';
import { Campaign, CampaignAttempt, CampaignContact, ContactStatus } from './campaign.types';

// Contacts of a due-date campaign wait for the daily batch to release them.
export const NOT_BEFORE_RELEASE = new Date('9999-12-31T00:00:00.000Z');
const TERMINAL_SCHEDULE = new Set(['completed', 'failed', 'missed', 'cancelled']);
// An attempt whose schedule is still missing this long after its claim lost its creator (a crash).
const ORPHAN_AFTER_MS = 60_000;
const RECONCILE_AFTER_MS = 20_000;

// delayMs: when to look again (null: not until something changes). A delay, not an instant, because
// Agenda runs on the wall clock while the runner reads the injectable one.
export interface AdvanceResult {
  outcome: string;
  started: number;
  delayMs: number | null;
}

// What a settlement records besides the outcome.
interface SettleDetail {
  callId?: string | null;
  errorCode?: string | null;
  // Back to the very next pass (a provider refusal: nothing rang), not after retry_delay.
  nextPass?: boolean;
}

type ClaimResult = 'started' | 'no_seat' | 'daily_cap' | 'lost' | 'rejected' | 'stopped';

// The daily batch's max_concurrent_calls is one pool of seats per tenant, shared by its due-date campaigns.
function batchPoolOf(tenantId: string): string {
  return `batch:${tenantId}`;
}

function localDay(at: Date, zone: string): string {
  return DateTime.fromJSDate(at, { zone }).toISODate() ?? DateTime.fromJSDate(at, { zone: 'UTC' }).toISODate()!;
}

// Works a campaign forward from what the database says: settles attempts whose schedule ended, then
// starts new attempts within the caps. Safe to run on any instance, any number of times: every attempt
// is a unique insert into the ledger, every seat and daily slot a unique key.
@Injectable()
export class CampaignRunner {
  private readonly logger = new Logger(CampaignRunner.name);
  // One advance per campaign at a time in this instance; a request meanwhile runs once more afterwards.
  private readonly running = new Map<string, { again: boolean; reconcile: boolean }>();

  constructor(
    private readonly campaigns: CampaignRepository,
    private readonly contacts: CampaignContactRepository,
    private readonly attempts: CampaignAttemptRepository,
    private readonly schedules: InternalScheduleService,
    private readonly dnc: DncService,
    private readonly zones: CalleeTimezoneResolver,
    private readonly batchSettings: SchedulerConfigRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  // A request while this instance is already advancing the campaign is folded into that run (one more
  // pass afterwards) and answered at once, so a tick never waits behind a stream of events.
  async advance(campaignId: string, reconcile = true): Promise<AdvanceResult> {
    const current = this.running.get(campaignId);
    if (current) {
      current.again = true;
      current.reconcile ||= reconcile;
      return { outcome: 'folded_into_running_pass', started: 0, delayMs: this.config.campaigns.tickIntervalMs };
    }
    const entry = { again: false, reconcile: false };
    this.running.set(campaignId, entry);
    try {
      let result = await this.advanceOnce(campaignId, reconcile);
      while (entry.again) {
        const again = { reconcile: entry.reconcile };
        entry.again = false;
        entry.reconcile = false;
        result = await this.advanceOnce(campaignId, again.reconcile);
      }
      return result;
    } finally {
      this.running.delete(campaignId);
    }
  }

  // A dial of unknown outcome is never redialed, and its contact stays in_progress until the outcome is
  // known or settled as unknown (hours later); its seat is given back at once, or a flaky provider would
  // hold every seat of the campaign for that long.
  async releaseSeatBySchedule(scheduleId: string): Promise<void> {
    const attempt = await this.attempts.findBySchedule(scheduleId);
    if (!attempt || attempt.state !== 'open') return;
    await this.write(() => this.attempts.releaseSeat(attemptKey(attempt.campaign_id, attempt.contact_id, attempt.attempt_number)));
  }

  // The event path: a schedule of one of our attempts reached an end.
  async settleBySchedule(scheduleId: string): Promise<string | null> {
    const attempt = await this.attempts.findBySchedule(scheduleId);
    if (!attempt || attempt.state !== 'open') return attempt?.campaign_id ?? null;
    const campaign = await this.campaigns.findById(attempt.campaign_id);
    if (!campaign) return null;
    const [state] = await this.schedules.statesOf([scheduleId]);
    if (state) await this.settle(campaign, attempt, state);
    return campaign.id;
  }

  // A cancelled campaign's attempts that have not been dispatched: each is withdrawn by winning its
  // occurrence's claim (InternalScheduleService.cancelIfNotStarted) and settled; returns how many.
  async withdrawUndialed(campaignId: string): Promise<number> {
    let withdrawn = 0;
    for (const attempt of await this.attempts.findOpen(campaignId, this.clock.now(), 10_000)) {
      if (!(await this.schedules.cancelIfNotStarted(attempt.schedule_id))) continue;
      await this.settleBySchedule(attempt.schedule_id);
      withdrawn++;
    }
    return withdrawn;
  }

  private async advanceOnce(campaignId: string, reconcile: boolean): Promise<AdvanceResult> {
    const campaign = await this.campaigns.findById(campaignId);
    // The tick's pass (not an event's: each withdrawal is one, and each would read every open attempt again).
    if (campaign?.status === 'cancelled' && reconcile) return { outcome: `cancelled withdrawn=${await this.withdrawUndialed(campaign.id)}`, started: 0, delayMs: null };
    // An event's pass folded into the tick's would otherwise end the tick's job before its withdrawal ran.
    if (campaign?.status === 'cancelled') return { outcome: 'not_running', started: 0, delayMs: WITHDRAWAL_RECHECK_MS };
    if (!campaign || campaign.status !== 'running') return { outcome: `not_running`, started: 0, delayMs: null };
    const now = this.clock.now();
    const tickMs = this.config.campaigns.tickIntervalMs;
    if (reconcile) await this.reconcile(campaign, now);
    if (campaign.start_at && campaign.start_at.getTime() > now.getTime()) return { outcome: 'not_started', started: 0, delayMs: campaign.start_at.getTime() - now.getTime() };

    const ended = campaign.end_at !== null && campaign.end_at.getTime() <= now.getTime();
    if (ended) {
      if ((await this.contacts.countInProgress(campaign.id)) > 0) return { outcome: 'ended_waiting_for_calls', started: 0, delayMs: tickMs };
      await this.campaigns.changeStatus(campaign.id, ['running'], 'completed', now);
      return { outcome: 'ended', started: 0, delayMs: null };
    }

    const batchLimit = await this.batchConcurrencyLimit(campaign);
    let capacity = campaign.max_concurrent_calls - (await this.attempts.seatsInUse(campaign.id));
    if (batchLimit !== null) capacity = Math.min(capacity, batchLimit - (await this.attempts.seatsInUse(batchPoolOf(campaign.tenant_id))));
    if (capacity <= 0) return { outcome: 'at_concurrency_limit', started: 0, delayMs: tickMs };
    const perPass = campaign.batch_size ?? this.config.campaigns.tickBatch;
    const batchBound = perPass < capacity;
    capacity = Math.min(capacity, perPass);
    const candidates = await this.contacts.findSelectable(campaign.id, now, Math.min(Math.max(this.config.campaigns.tickBatch, perPass), capacity * 4 + 20));
    if (candidates.length === 0) {
      // A due-date campaign stays open for contacts that come due later; any other completes when worked through.
      if (campaign.call_days_before === null && (await this.contacts.countActive(campaign.id)) === 0) {
        await this.campaigns.changeStatus(campaign.id, ['running'], 'completed', now);
        return { outcome: 'completed', started: 0, delayMs: null };
      }
      return { outcome: 'nothing_due', started: 0, delayMs: await this.nextRun(campaign, now) };
    }

    const blocked = await this.dnc.findBlocked(campaign.tenant_id, candidates.map((c) => c.phone));
    // Contacts that are not dialed now are set aside in a few bulk writes (one per kind and wait time).
    const setAside = new Map<string, { set: Partial<CampaignContact>; ids: string[] }>();
    const putAside = (set: Partial<CampaignContact>, id: string) => {
      const key = JSON.stringify(set);
      const group = setAside.get(key) ?? { set, ids: [] };
      group.ids.push(id);
      setAside.set(key, group);
    };
    let started = 0;
    let outcome = 'advanced';
    for (const contact of candidates) {
      if (capacity <= 0) break;
      if (blocked.has(contact.phone)) {
        putAside({ status: 'skipped', last_outcome: 'dnc' }, contact.id);
        continue;
      }
      if (contact.attempts >= campaign.max_attempts) {
        putAside({ status: 'exhausted' }, contact.id);
        continue;
      }
      const zones = this.zones.zonesFor(contact.phone, contact.timezone, campaign.timezone);
      if (!isWithinWindow(campaign.calling_window, zones, now)) {
        // Deferred, not dropped: the contact waits for its next opening without holding a seat.
        const opening = nextWindowOpening(campaign.calling_window, zones, now);
        putAside({ next_attempt_at: opening ?? NOT_BEFORE_RELEASE, last_outcome: 'deferred_calling_hours' }, contact.id);
        continue;
      }
      const day = localDay(now, zones[0] ?? campaign.timezone);
      if (campaign.max_attempts_per_day !== null && contact.day_key === day && contact.day_attempts >= campaign.max_attempts_per_day) {
        const tomorrow = DateTime.fromJSDate(now, { zone: zones[0] ?? campaign.timezone }).plus({ days: 1 }).startOf('day').toJSDate();
        putAside({ next_attempt_at: tomorrow, last_outcome: 'daily_attempt_cap' }, contact.id);
        continue;
      }
      const result = await this.claim(campaign, contact, day, zones, batchLimit, now);
      if (result === 'started') {
        started++;
        capacity--;
      } else if (result === 'no_seat') break;
      else if (result === 'stopped') {
        // Paused or cancelled mid-tick: the withdrawn seat would otherwise go to the next candidate, and so on.
        outcome = 'stopped';
        break;
      } else if (result === 'daily_cap') {
        outcome = 'daily_cap_reached';
        break;
      }
    }
    for (const { set, ids } of setAside.values()) await this.write(() => this.contacts.updateSelectableMany(ids, { ...set, updated_at: now }));
    if (outcome === 'daily_cap_reached') {
      const tomorrow = DateTime.fromJSDate(now, { zone: campaign.timezone }).plus({ days: 1 }).startOf('day').toJSDate();
      return { outcome, started, delayMs: tomorrow.getTime() - now.getTime() };
    }
    // Paused or cancelled meanwhile: this job's next run would replace the one the cancel armed to finish
    // its withdrawal, so it is armed again from here.
    if (outcome === 'stopped') return { outcome, started, delayMs: WITHDRAWAL_RECHECK_MS };
    // A pass that used its whole batch_size leaves the rest to the next tick.
    if (batchBound && started >= perPass) return { outcome: 'batch_size_reached', started, delayMs: tickMs };
    return { outcome, started, delayMs: await this.nextRun(campaign, now) };
  }

  private async nextRun(campaign: Campaign, now: Date): Promise<number> {
    const earliest = await this.contacts.earliestNextAttempt(campaign.id);
    const tickMs = this.config.campaigns.tickIntervalMs;
    return earliest ? Math.min(tickMs, Math.max(200, earliest.getTime() - now.getTime())) : tickMs;
  }

  // Due-date campaigns (the daily batch) share the tenant's scheduler-config max_concurrent_calls.
  private async batchConcurrencyLimit(campaign: Campaign): Promise<number | null> {
    if (campaign.call_days_before === null) return null;
    return (await this.batchSettings.findConfig(campaign.tenant_id))?.max_concurrent_calls ?? DEFAULT_SCHEDULER_SETTINGS.max_concurrent_calls;
  }

  private async claim(campaign: Campaign, contact: CampaignContact, day: string, zones: string[], batchLimit: number | null, now: Date): Promise<ClaimResult> {
    const attemptNumber = contact.attempt_seq + 1;
    const key = attemptKey(campaign.id, contact.id, attemptNumber);
    if (!(await this.write(() => this.attempts.takeSeat(campaign.id, campaign.max_concurrent_calls, key, now)))) return 'no_seat';
    // Both seats carry the attempt's key: releasing the attempt's seat (or the orphan sweep) frees both.
    if (batchLimit !== null && !(await this.write(() => this.attempts.takeSeat(batchPoolOf(campaign.tenant_id), batchLimit, key, now)))) {
      await this.write(() => this.attempts.releaseAllSlots(key));
      return 'no_seat';
    }
    const campaignDay = localDay(now, campaign.timezone);
    if (campaign.daily_cap !== null && !(await this.write(() => this.attempts.takeDaySlot(campaign.id, campaignDay, campaign.daily_cap!, key, now)))) {
      await this.write(() => this.attempts.releaseAllSlots(key));
      return 'daily_cap';
    }
    const attemptId = this.attempts.newId();
    const attempt: CampaignAttempt = {
      id: attemptId,
      campaign_id: campaign.id,
      contact_id: contact.id,
      tenant_id: campaign.tenant_id,
      attempt_number: attemptNumber,
      dial_number: contact.attempts + 1,
      schedule_id: attemptId,
      state: 'open',
      outcome: null,
      call_id: null,
      error_code: null,
      created_at: now,
      settled_at: null,
    };
    const won = await this.write(() => this.attempts.insertAttempt(attempt, campaignDay));
    if (!won) {
      await this.write(() => this.attempts.releaseAllSlots(key));
      return 'lost';
    }
    const moved = await this.write(() =>
      this.contacts.markAttemptStarted(contact.id, contact.attempt_seq, {
        status: 'in_progress',
        attempt_seq: attemptNumber,
        attempts: contact.attempts + 1,
        current_attempt_id: attemptId,
        last_attempt_at: now,
        day_key: day,
        day_attempts: (contact.day_key === day ? contact.day_attempts : 0) + 1,
        updated_at: now,
      }),
    );
    if (!moved) {
      await this.write(() => this.attempts.deleteAttempt(attemptId));
      await this.write(() => this.attempts.releaseAllSlots(key));
      return 'lost';
    }
    // A pause or cancel that landed while this claim was being made wins: the attempt is withdrawn undialed.
    const fresh = await this.campaigns.findById(campaign.id);
    if (fresh?.status !== 'running') {
      await this.finish(campaign, attempt, contact.attempts === 0 ? 'pending' : 'not_reached', 'withdrawn', contact.attempts, now);
      return 'stopped';
    }
    if (!(await this.launch(campaign, { ...contact, attempts: contact.attempts + 1 }, attempt, zones))) return 'rejected';
    // A cancel whose withdrawal ran between the read above and the schedule's insert did not see it: it is
    // withdrawn here, by the same claim as the cancel's (the dispatcher, if it took the claim first, dials).
    if ((await this.campaigns.findById(campaign.id))?.status === 'cancelled' && (await this.schedules.cancelIfNotStarted(attempt.schedule_id))) {
      await this.settleBySchedule(attempt.schedule_id);
      return 'stopped';
    }
    return 'started';
  }

  // Creates the attempt's schedule, keyed by the attempt id: re-running after a crash cannot make two.
  private async launch(campaign: Campaign, contact: CampaignContact, attempt: CampaignAttempt, zones: string[]): Promise<boolean> {
    try {
      await this.schedules.createOneTime({
        id: attempt.schedule_id,
        mayExist: attempt.created_at.getTime() < this.clock.now().getTime() - ORPHAN_AFTER_MS,
        tenantId: campaign.tenant_id,
        createdBy: campaign.created_by,
        phone: contact.phone,
        scheduledTime: this.clock.now(),
        timezone: campaign.timezone,
        description: `Campaign ${campaign.name}: attempt ${attempt.dial_number}`,
        metadata: {
          campaign_id: campaign.id,
          campaign_contact_id: contact.id,
          attempt_number: attempt.dial_number,
          contact_name: contact.name,
          variables: contact.variables,
        },
        providerOptions: campaign.provider_options,
        callingWindow: campaign.calling_window,
        calleeTimezone: contact.timezone ?? (zones.length === 1 ? zones[0] : null),
        campaignId: campaign.id,
        campaignContactId: contact.id,
      });
      return true;
    } catch (error) {
      if (!(error instanceof InternalScheduleRejectedError)) throw error;
      this.logger.warn(`campaign ${campaign.id} contact ${contact.id}: schedule rejected: ${error.message}`);
      await this.finish(campaign, attempt, 'failed', `rejected: ${error.message}`, contact.attempts - 1, this.clock.now());
      return false;
    }
  }

  // The periodic path, from database state alone: ends of attempts whose events were lost, attempts whose
  // schedule was never created, and seats whose attempt is gone.
  private async reconcile(campaign: Campaign, now: Date): Promise<void> {
    // Fresh attempts are settled by their events; the tick reads only those the events may have missed.
    const open = await this.attempts.findOpen(campaign.id, new Date(now.getTime() - RECONCILE_AFTER_MS), 500);
    const states = new Map<string, InternalScheduleState>();
    for (const state of await this.schedules.statesOf(open.map((a) => a.schedule_id))) states.set(state.id, state);
    for (const attempt of open) {
      const state = states.get(attempt.schedule_id);
      if (state) {
        await this.settle(campaign, attempt, state);
        continue;
      }
      if (now.getTime() - attempt.created_at.getTime() < ORPHAN_AFTER_MS) continue;
      const contact = await this.contacts.findById(attempt.contact_id);
      if (!contact || contact.current_attempt_id !== attempt.id) {
        await this.finish(campaign, attempt, 'abandoned', 'attempt never started', null, now);
        continue;
      }
      await this.launch(campaign, contact, attempt, this.zones.zonesFor(contact.phone, contact.timezone, campaign.timezone));
    }
    const stale = (await this.attempts.seats(campaign.id)).filter((seat) => now.getTime() - seat.created_at.getTime() >= ORPHAN_AFTER_MS);
    if (stale.length > 0) {
      const openKeys = new Set((await this.attempts.findOpen(campaign.id, now, 10_000)).map((a) => attemptKey(a.campaign_id, a.contact_id, a.attempt_number)));
      for (const seat of stale) if (!openKeys.has(seat.attempt_key)) await this.write(() => this.attempts.releaseSeat(seat.attempt_key));
    }
  }

  private async settle(campaign: Campaign, attempt: CampaignAttempt, state: InternalScheduleState): Promise<void> {
    if (!TERMINAL_SCHEDULE.has(state.status)) return;
    const now = this.clock.now();
    const outcome = state.last_call_status ?? state.status;
    const undialed = attempt.dial_number - 1;
    if (state.status === 'completed' && outcome.startsWith('skipped_')) return this.finish(campaign, attempt, 'skipped', outcome, undialed, now);
    if (state.status === 'completed') return this.finish(campaign, attempt, 'completed', outcome, attempt.dial_number, now, { callId: state.call_id });
    if (state.status === 'cancelled') return this.finish(campaign, attempt, undialed === 0 ? 'pending' : 'not_reached', 'cancelled', undialed, now);
    if (state.status === 'missed') return this.finish(campaign, attempt, this.retryOrExhaust(campaign, undialed), 'missed', undialed, now);
    const detail: SettleDetail = { callId: state.call_id, errorCode: state.error_code };
    if (state.status === 'failed') {
      const kind = dialFailureKind(state.error_code, state.call_id !== null);
      // Counted towards max_attempts, whatever retry_on says: a refusal is retried, an invalid number never.
      if (kind === 'refused') return this.finish(campaign, attempt, this.retryOrExhaust(campaign, attempt.dial_number), 'provider_refused', attempt.dial_number, now, { ...detail, nextPass: true });
      if (kind === 'invalid_number') return this.finish(campaign, attempt, 'failed', 'invalid_number', attempt.dial_number, now, detail);
    }
    const retryable = (campaign.retry_on as string[]).includes(outcome);
    return this.finish(campaign, attempt, retryable ? this.retryOrExhaust(campaign, attempt.dial_number) : 'failed', outcome, attempt.dial_number, now, detail);
  }

  private retryOrExhaust(campaign: Campaign, attemptsMade: number): ContactStatus {
    return attemptsMade >= campaign.max_attempts ? 'exhausted' : 'not_reached';
  }

  private async finish(
    campaign: Campaign,
    attempt: CampaignAttempt,
    status: ContactStatus | 'abandoned',
    outcome: string,
    attempts: number | null,
    now: Date,
    detail: SettleDetail = {},
  ): Promise<void> {
    if (status !== 'abandoned') {
      const set: Partial<CampaignContact> = { status, last_outcome: outcome, current_attempt_id: null, updated_at: now };
      if (attempts !== null) set.attempts = attempts;
      if (status === 'not_reached' || status === 'pending') {
        if (campaign.call_days_before !== null) set.next_attempt_at = NOT_BEFORE_RELEASE;
        else {
          // The attempt's claim time is the contact's last_attempt_at.
          const gapFrom = attempt.created_at;
          const retryAt = now.getTime() + (detail.nextPass ? 0 : campaign.retry_delay * 1000);
          set.next_attempt_at = new Date(Math.max(retryAt, gapFrom.getTime() + campaign.min_attempt_gap_minutes * 60_000));
        }
      }
      await this.write(() => this.contacts.settleAttempt(attempt.contact_id, attempt.id, set));
    }
    await this.write(() => this.attempts.markSettled(attempt.id, status === 'abandoned' ? 'abandoned' : outcome, now, { call_id: detail.callId ?? null, error_code: detail.errorCode ?? null }));
    await this.write(() => this.attempts.releaseSeat(attemptKey(attempt.campaign_id, attempt.contact_id, attempt.attempt_number)));
  }

  private write<T>(fn: () => Promise<T>): Promise<T> {
    return retryOnLockContention(fn);
  }
}
