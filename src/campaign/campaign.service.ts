import { Injectable, Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { Principal, scopeOf } from '../auth/principal';
import { defaultCallingWindow } from '../calling-rules/calling-window';
import { toCallingWindow } from '../calling-rules/dto/calling-window.dto';
import { InvalidProviderOptionsError, resolveProviderOptions } from '../calls/provider-options';
import { Clock } from '../common/clock/clock';
import { checkFreeObject } from '../common/validation/free-object';
import { AppConfig } from '../config/app-config';
import { JobQueueService } from '../jobs/job-queue.service';
import { InternalScheduleService } from '../schedule/internal-schedule.service';
import { CampaignAttemptRepository } from './campaign-attempt.repository';
import { CampaignContactRepository } from './campaign-contact.repository';
import { AdvanceResult, CampaignRunner, NOT_BEFORE_RELEASE } from './campaign-runner.service';
import { CAMPAIGN_TICK_JOB, WITHDRAWAL_RECHECK_MS } from './campaign.constants';
import { CampaignNotFoundException, IllegalCampaignTransitionException, InvalidCampaignInputException } from './campaign.exceptions';
import { CampaignRepository, NewCampaign } from './campaign.repository';
import { Campaign, CampaignAttempt, CampaignContact, CampaignRetryStatus, CampaignStatus, ContactCounters, ContactStatus } from './campaign.types';
import { ContactImportService, ImportFormat, ImportReport } from './contact-import.service';
import { CreateCampaignDto, UpdateCampaignDto } from './dto/create-campaign.dto';
import { DailyRunSchedule } from '../scheduler-config/daily-run.schedule';

const IMPORTABLE: CampaignStatus[] = ['draft', 'running', 'paused', 'completed'];
const EDITABLE: CampaignStatus[] = ['draft', 'running', 'paused'];

@Injectable()
export class CampaignService {
  private readonly logger = new Logger(CampaignService.name);

  constructor(
    private readonly campaigns: CampaignRepository,
    private readonly contacts: CampaignContactRepository,
    private readonly attempts: CampaignAttemptRepository,
    private readonly importer: ContactImportService,
    private readonly runner: CampaignRunner,
    private readonly schedules: InternalScheduleService,
    private readonly jobs: JobQueueService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly dailyRuns: DailyRunSchedule,
  ) {}

  async create(principal: Principal, dto: CreateCampaignDto): Promise<Campaign> {
    const now = this.clock.now();
    const fields: NewCampaign = {
      tenant_id: principal.tenantId,
      created_by: principal.sub,
      name: dto.name,
      timezone: dto.timezone ?? this.config.scheduler.timezone,
      calling_window: dto.calling_window ? toCallingWindow(dto.calling_window) : defaultCallingWindow(this.config),
      start_at: null,
      end_at: null,
      max_attempts: 3,
      max_attempts_per_day: null,
      min_attempt_gap_minutes: 0,
      retry_on: ['busy', 'no_answer'],
      retry_delay: 3600,
      max_concurrent_calls: 5,
      daily_cap: null,
      priority: 0,
      provider_options: {},
      call_days_before: null,
      batch_size: null,
      due_date_match: 'within',
      required_contact_status: null,
      status: 'draft',
      created_at: now,
      updated_at: now,
    };
    return this.campaigns.insertCampaign(this.applyChanges(fields, dto));
  }

  async update(principal: Principal, id: string, dto: UpdateCampaignDto): Promise<Campaign> {
    const current = await this.load(principal, id);
    if (!EDITABLE.includes(current.status)) throw new IllegalCampaignTransitionException('update', current.status);
    // Contacts were imported for one mode (waiting for the daily batch, or not): it cannot change afterwards.
    if (dto.call_days_before !== undefined && dto.call_days_before !== current.call_days_before) {
      throw new InvalidCampaignInputException('CAMPAIGN_003', 'call_days_before', 'call_days_before is fixed when the campaign is created');
    }
    const { id: _id, ...fields } = current;
    const changed = this.applyChanges(fields, dto);
    const updated = (await this.campaigns.updateFields(id, changed, this.clock.now())) ?? current;
    // Attempts not dialed yet carry the old window in their schedule: withdraw them, and they are made
    // again under the new one (withdrawn attempts do not count towards max_attempts).
    if (dto.calling_window !== undefined) {
      await this.runner.withdrawUndialed(updated.id);
      await this.contacts.recheckDeferred(updated.id, this.clock.now());
    }
    if (updated.status === 'running') await this.armTick(updated.id);
    return updated;
  }

  async get(principal: Principal, id: string): Promise<{ campaign: Campaign; counters: ContactCounters }> {
    const campaign = await this.load(principal, id);
    return { campaign, counters: await this.contacts.countByStatus(campaign.id) };
  }

  list(principal: Principal, status: CampaignStatus | undefined, limit: number, offset: number): Promise<{ items: Campaign[]; total: number }> {
    return this.campaigns.listForTenant(scopeOf(principal), status, limit, offset);
  }

  async listContacts(principal: Principal, id: string, status: ContactStatus | undefined, limit: number, offset: number): Promise<{ items: CampaignContact[]; total: number }> {
    const campaign = await this.load(principal, id);
    return this.contacts.list(campaign.id, status, limit, offset);
  }

  // Open attempts take their call id from their schedule: it is recorded on the attempt when it settles.
  async listAttempts(
    principal: Principal,
    id: string,
    contactId: string | undefined,
    limit: number,
    offset: number,
  ): Promise<{ items: Array<{ attempt: CampaignAttempt; phone: string | null }>; total: number }> {
    const campaign = await this.load(principal, id);
    const { items, total } = await this.attempts.listForCampaign(campaign.id, contactId, limit, offset);
    const open = items.filter((a) => a.state === 'open');
    const callIds = new Map((await this.schedules.statesOf(open.map((a) => a.schedule_id), true)).map((s) => [s.id, s.call_id]));
    const phones = new Map((await this.contacts.findByIds([...new Set(items.map((a) => a.contact_id))])).map((c) => [c.id, c.phone]));
    return {
      items: items.map((a) => ({ attempt: a.state === 'open' ? { ...a, call_id: callIds.get(a.schedule_id) ?? null } : a, phone: phones.get(a.contact_id) ?? null })),
      total,
    };
  }

  // One pass now (seed 003's run_once), as the tick would run it; the tick is re-armed from its result.
  async runOnce(principal: Principal, id: string): Promise<{ campaign: Campaign; counters: ContactCounters; result: AdvanceResult }> {
    const current = await this.load(principal, id);
    if (current.status !== 'running') throw new IllegalCampaignTransitionException('run', current.status);
    const result = await this.runner.advance(current.id);
    if (result.delayMs !== null) await this.armTick(current.id, result.delayMs);
    const campaign = await this.load(principal, id);
    return { campaign, counters: await this.contacts.countByStatus(campaign.id), result };
  }

  async importContacts(principal: Principal, id: string, format: ImportFormat, body: Readable): Promise<ImportReport> {
    const campaign = await this.load(principal, id);
    if (!IMPORTABLE.includes(campaign.status)) throw new IllegalCampaignTransitionException('import contacts into', campaign.status);
    const report = await this.importer.importStream(campaign.id, campaign.tenant_id, campaign.call_days_before !== null ? NOT_BEFORE_RELEASE : null, format, body);
    if (campaign.status === 'completed' && report.accepted > 0) {
      await this.campaigns.changeStatus(campaign.id, ['completed'], 'running', this.clock.now());
      await this.armTick(campaign.id);
    } else if (campaign.status === 'running' && report.accepted > 0) await this.armTick(campaign.id);
    return report;
  }

  start(principal: Principal, id: string): Promise<Campaign> {
    return this.transition(principal, id, 'start', ['draft'], 'running');
  }

  pause(principal: Principal, id: string): Promise<Campaign> {
    return this.transition(principal, id, 'pause', ['running'], 'paused');
  }

  resume(principal: Principal, id: string): Promise<Campaign> {
    return this.transition(principal, id, 'resume', ['paused'], 'running');
  }

  // Attempts not dialed yet are withdrawn; calls already under way finish and are recorded. The withdrawal
  // runs now, and again from the tick the transition armed: one that stopped part-way (a failed write, a
  // process that ended) is finished there, since a second cancel is refused.
  async cancel(principal: Principal, id: string): Promise<Campaign> {
    const campaign = await this.transition(principal, id, 'cancel', ['draft', 'running', 'paused'], 'cancelled');
    await this.runner.withdrawUndialed(campaign.id).catch((error: unknown) => {
      this.logger.warn(`campaign ${campaign.id}: withdrawal left to its tick: ${error instanceof Error ? error.message : String(error)}`);
    });
    return campaign;
  }

  private async transition(principal: Principal, id: string, action: string, from: CampaignStatus[], to: CampaignStatus): Promise<Campaign> {
    const current = await this.load(principal, id);
    if (!from.includes(current.status)) throw new IllegalCampaignTransitionException(action, current.status);
    const now = this.clock.now();
    if (to === 'cancelled') await this.armTick(id, WITHDRAWAL_RECHECK_MS);
    const updated = await this.campaigns.changeStatus(id, from, to, now);
    if (!updated) {
      const fresh = await this.load(principal, id);
      throw new IllegalCampaignTransitionException(action, fresh.status);
    }
    if (to === 'running') await this.armTick(id, updated.start_at ? updated.start_at.getTime() - now.getTime() : 0);
    // Due-date campaigns wait for the tenant's daily batch, which runs on the defaults until configured.
    if (to === 'running' && updated.call_days_before !== null) await this.dailyRuns.ensureArmed(updated.tenant_id);
    return updated;
  }

  // Agenda runs on the wall clock, so the job's time is now plus the wanted delay.
  private armTick(campaignId: string, delayMs = 0): Promise<string> {
    return this.jobs.upsertUnique(CAMPAIGN_TICK_JOB, { campaign_id: campaignId }, { campaign_id: campaignId }, new Date(Date.now() + Math.max(0, delayMs)));
  }

  private applyChanges(base: NewCampaign, dto: UpdateCampaignDto): NewCampaign {
    const next: NewCampaign = { ...base };
    if (dto.name !== undefined) next.name = dto.name;
    if (dto.timezone !== undefined) next.timezone = dto.timezone;
    if (dto.calling_window !== undefined) next.calling_window = toCallingWindow(dto.calling_window);
    if (dto.start_at !== undefined) next.start_at = new Date(dto.start_at);
    if (dto.end_at !== undefined) next.end_at = new Date(dto.end_at);
    if (dto.max_attempts !== undefined) next.max_attempts = dto.max_attempts;
    if (dto.max_attempts_per_day !== undefined) next.max_attempts_per_day = dto.max_attempts_per_day;
    if (dto.min_attempt_gap_minutes !== undefined) next.min_attempt_gap_minutes = dto.min_attempt_gap_minutes;
    if (dto.retry_on !== undefined) next.retry_on = [...new Set(dto.retry_on.map((s) => (s === 'no-answer' ? 'no_answer' : s)))] as CampaignRetryStatus[];
    if (dto.retry_delay !== undefined) next.retry_delay = dto.retry_delay;
    if (dto.max_concurrent_calls !== undefined) next.max_concurrent_calls = dto.max_concurrent_calls;
    if (dto.daily_cap !== undefined) next.daily_cap = dto.daily_cap;
    if (dto.priority !== undefined) next.priority = dto.priority;
    if (dto.call_days_before !== undefined) next.call_days_before = dto.call_days_before;
    if (dto.batch_size !== undefined) next.batch_size = dto.batch_size;
    if (dto.due_date_match !== undefined) next.due_date_match = dto.due_date_match;
    if (dto.required_contact_status !== undefined) next.required_contact_status = dto.required_contact_status;
    // Campaigns stored before these settings existed lack them: read as `within` and none.
    const requiresStatus = (next.required_contact_status ?? null) !== null;
    if (next.call_days_before === null && ((next.due_date_match ?? 'within') !== 'within' || requiresStatus)) {
      const field = requiresStatus ? 'required_contact_status' : 'due_date_match';
      throw new InvalidCampaignInputException('CAMPAIGN_003', field, `${field} applies to due-date campaigns only (set call_days_before)`);
    }
    if (dto.provider_options !== undefined) {
      const problem = checkFreeObject(dto.provider_options, 'provider_options', this.config.metadataMaxBytes);
      if (problem) throw new InvalidCampaignInputException('SCHEDULE_014', problem.path, problem.issue);
      try {
        resolveProviderOptions(dto.provider_options, this.config);
      } catch (error) {
        if (error instanceof InvalidProviderOptionsError) throw new InvalidCampaignInputException('SCHEDULE_014', error.field, error.issue);
        throw error;
      }
      next.provider_options = dto.provider_options;
    }
    if (next.start_at && next.end_at && next.end_at.getTime() <= next.start_at.getTime()) {
      throw new InvalidCampaignInputException('CAMPAIGN_003', 'end_at', 'end_at must be after start_at');
    }
    return next;
  }

  private async load(principal: Principal, id: string): Promise<Campaign> {
    const campaign = await this.campaigns.findForTenant(id, scopeOf(principal));
    if (!campaign) throw new CampaignNotFoundException(id);
    return campaign;
  }
}
