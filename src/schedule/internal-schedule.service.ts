import { Injectable } from '@nestjs/common';
import { resolveProviderOptions, InvalidProviderOptionsError } from '../calls/provider-options';
import { Clock } from '../common/clock/clock';
import { isDuplicateKeyError, retryOnLockContention } from '../common/mongo/mongo-query';
import { AppConfig } from '../config/app-config';
import { CallLogRepository } from '../tracking/call-log.repository';
import type { CallingWindow } from '../calling-rules/calling-window';
import { DispatchTrigger } from './dispatch/dispatch-trigger';
import { buildDefinition, newScheduleFields } from './schedule-definition';
import { OccurrenceClaimRepository } from './occurrence-claim.repository';
import { creationOf, ScheduleOutbox } from './schedule-outbox';
import { ScheduleRepository } from './schedule.repository';
import { Schedule, ScheduleStatus } from './schedule.types';

// A one-time schedule created by another module on a tenant's behalf (a campaign attempt). It is an
// ordinary schedule: same validation, claim ledger, pacing, calling rules, retries and webhooks.
export interface InternalScheduleRequest {
  // Chosen by the caller so that re-creating after a crash is a duplicate insert, not a second schedule.
  id: string;
  // A re-creation after a crash: look first, so that an existing schedule's job is left alone.
  mayExist?: boolean;
  tenantId: string;
  createdBy: string;
  phone: string;
  scheduledTime: Date;
  timezone: string;
  description: string | null;
  metadata: Record<string, unknown>;
  providerOptions: Record<string, unknown>;
  callingWindow: CallingWindow;
  calleeTimezone: string | null;
  campaignId: string;
  campaignContactId: string;
}

export interface InternalScheduleState {
  id: string;
  status: ScheduleStatus;
  last_call_status: string | null;
  // The provider's id of the schedule's last call, and the error code its call log ended with.
  call_id: string | null;
  error_code: string | null;
}

const CANCELLER = 'campaign-cancel';

export class InternalScheduleRejectedError extends Error {
  constructor(
    readonly field: string,
    readonly issue: string,
  ) {
    super(`${field}: ${issue}`);
  }
}

@Injectable()
export class InternalScheduleService {
  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly claims: OccurrenceClaimRepository,
    private readonly outbox: ScheduleOutbox,
    private readonly trigger: DispatchTrigger,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly callLogs: CallLogRepository,
  ) {}

  // True when this call created it, false when a schedule with this id already existed.
  async createOneTime(request: InternalScheduleRequest): Promise<boolean> {
    const now = this.clock.now();
    const at = request.scheduledTime.getTime() < now.getTime() ? now : request.scheduledTime;
    let definition;
    try {
      definition = buildDefinition(
        {
          phone: request.phone,
          scheduled_time: at.toISOString(),
          timezone: request.timezone,
          description: request.description ?? undefined,
          metadata: request.metadata,
          provider_options: request.providerOptions,
          respect_calling_hours: true,
          callee_timezone: request.calleeTimezone ?? undefined,
          calling_window: request.callingWindow,
        },
        {
          now,
          defaultTimezone: this.config.scheduler.timezone,
          maxObjectBytes: this.config.metadataMaxBytes,
          // The campaign's options were checked when the campaign was written. Here they are checked as the
          // dispatcher checks a stored schedule's, against today's config, so that a campaign stored before a
          // newer write-time check (simulate_outcome's values, say) keeps reaching its contacts.
          checkProviderOptions: (options) => {
            try {
              resolveProviderOptions(options, this.config, 'ignore');
              return null;
            } catch (error) {
              if (error instanceof InvalidProviderOptionsError) return { field: error.field, issue: error.issue };
              throw error;
            }
          },
        },
      );
    } catch (error) {
      const details = (error as { details?: { field?: string; issue?: string } }).details;
      if (details?.issue) throw new InternalScheduleRejectedError(details.field ?? 'schedule', details.issue);
      throw error;
    }
    if (request.mayExist) {
      const existing = await this.schedules.findById(request.id);
      // Relaunched after its first try stopped: that try may have stopped before the schedule's events.
      if (existing) {
        await this.recordCreated(existing, request, existing.created_at, false);
        return false;
      }
    }

    const campaignRef = { campaign_id: request.campaignId, campaign_contact_id: request.campaignContactId };
    let schedule;
    try {
      schedule = await retryOnLockContention(() =>
        this.schedules.insertSchedule(request.id, {
          ...newScheduleFields(definition, { tenantId: request.tenantId, sub: request.createdBy }, now),
          ...campaignRef,
          user_profile_id: null,
        }),
      );
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
    await this.recordCreated(schedule, request, now, true);
    this.trigger.armed(schedule.id, schedule.status, schedule.next_execution);
    return true;
  }

  // Under a key, not the schedule's id: an attempt's id can be minutes old when it is relaunched, and the
  // stream reads events in id order.
  private async recordCreated(schedule: Schedule, request: { campaignId: string; campaignContactId: string }, at: Date, publish: boolean): Promise<void> {
    const change = creationOf(at, 'Schedule created for a campaign attempt', { campaign_id: request.campaignId, campaign_contact_id: request.campaignContactId });
    const events = await retryOnLockContention(() => this.outbox.storeCreated(schedule, change, 'key'));
    if (publish) this.outbox.publishAll(events);
  }

  // withCallInProgress: a running schedule's call id, for a listing (the schedule records it with the outcome;
  // the settling paths read only ended schedules and skip the read).
  async statesOf(ids: string[], withCallInProgress = false): Promise<InternalScheduleState[]> {
    const out: InternalScheduleState[] = [];
    for (const id of ids) {
      const schedule = await this.schedules.findById(id);
      if (schedule) out.push({ id, status: schedule.status, last_call_status: schedule.last_call_status, call_id: schedule.call_id, error_code: null });
    }
    // A dial that failed as such (not busy, not unanswered) needs its call log's error code, and a call in
    // progress its id (the schedule records it with the outcome): one query for all.
    const failed = out.filter((s) => s.status === 'failed' && s.last_call_status === 'failed');
    const running = withCallInProgress ? out.filter((s) => s.status === 'running') : [];
    if (failed.length + running.length > 0) {
      const logs = await this.callLogs.latestForSchedules([...failed, ...running].map((s) => s.id));
      for (const state of failed) {
        const log = logs.get(state.id);
        state.error_code = log?.error_code ?? null;
        state.call_id ??= log?.call_id ?? null;
      }
      for (const state of running) state.call_id = logs.get(state.id)?.call_id ?? state.call_id;
    }
    return out;
  }

  // Withdraws a schedule that has not been dispatched yet; one already claimed is left to finish.
  async cancelIfNotStarted(id: string): Promise<boolean> {
    let schedule = await this.schedules.findById(id);
    if (!schedule || (schedule.status !== 'scheduled' && schedule.status !== 'paused')) return false;
    const now = this.clock.now();
    // The dispatcher claims an occurrence before it dials: winning that same unique insert first is what
    // makes "not started" certain. A version-checked update alone is not: FerretDB's conditional updates
    // are not atomic, so a dispatch racing it could advance (and dial) a schedule this then cancels.
    const { tenant_id: tenantId, next_execution: occurrenceAt } = schedule;
    if (occurrenceAt) {
      // As a repeat under the canceller's run id: a cancel that stopped after its claim (the update below
      // failed) finds its own claim when it is run again, and finishes.
      const claim = await retryOnLockContention(() =>
        this.claims.claimOccurrence({ scheduleId: id, tenantId, occurrenceAt, state: 'skipped', instance: CANCELLER, runId: CANCELLER, repeat: true, now, detail: 'cancelled with its campaign' }),
      );
      if (!claim.won) return false;
    }
    // Nothing can dispatch this occurrence now, so a write lost to a concurrent edit is simply redone.
    for (let tries = 0; tries < 5; tries++) {
      const updated = await this.schedules.updateIfVersion(id, schedule.version, ['scheduled', 'paused'], { status: 'cancelled', next_execution: null, last_updated: now }, {
        at: now,
        events: [{ notify: 'schedule.cancelled', history: { type: 'cancelled', level: 'info', message: 'Schedule cancelled with its campaign', data: {} } }],
      });
      if (updated) return true;
      const fresh = await this.schedules.findById(id);
      if (!fresh || (fresh.status !== 'scheduled' && fresh.status !== 'paused')) return false;
      schedule = fresh;
    }
    return false;
  }
}
