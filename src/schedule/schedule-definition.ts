import { agentInstanceFor, Principal } from '../auth/principal';
import { InvalidProviderOptionsError, resolveProviderOptions } from '../calls/provider-options';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';
import { checkFreeObject } from '../common/validation/free-object';
import { toE164 } from '../common/validation/is-phone.decorator';
import {
  compileRecurrence,
  InvalidCronError,
  InvalidRepeatConfigError,
  InvalidScheduledTimeError,
  resolveScheduledTime,
  UnknownTimezoneError,
} from './recurrence/recurrence';
import { CreateScheduleDto } from './dto/create-schedule.dto';
import { RepeatConfigDto } from './dto/repeat-config.dto';
import { InvalidScheduleInputException } from './schedule.exceptions';
import { nextWithinBounds } from './schedule-timing';
import { RetryPolicyDto } from './dto/retry-policy.dto';
import { MisfirePolicy, RetryPolicy, Schedule, StoredRepeatConfig } from './schedule.types';
import { CallingWindow } from '../calling-rules/calling-window';
import { CallingWindowDto, toCallingWindow } from '../calling-rules/dto/calling-window.dto';

// The context API input is checked in: the instant, defaults and the provider options check.
export function definitionContextFor(config: AppConfig, now: Date) {
  return {
    now,
    defaultTimezone: config.scheduler.timezone,
    maxObjectBytes: config.metadataMaxBytes,
    checkProviderOptions: (options: Record<string, unknown>) => {
      try {
        resolveProviderOptions(options, config);
        return null;
      } catch (error) {
        if (error instanceof InvalidProviderOptionsError) return { field: error.field, issue: error.issue };
        throw error;
      }
    },
  };
}

export type ProviderOptionsCheck = (options: Record<string, unknown>) => { field: string; issue: string } | null;

function toRetryPolicy(input: RetryPolicyDto): RetryPolicy {
  return {
    max_attempts: input.max_attempts ?? 1,
    retry_on: (input.retry_on ?? ['busy', 'no_answer', 'failed']) as RetryPolicy['retry_on'],
    delay_seconds: input.delay_seconds ?? 300,
    backoff: (input.backoff ?? 'fixed') as RetryPolicy['backoff'],
  };
}

export interface ScheduleDefinition {
  phone: string;
  scheduled_time: Date;
  timezone: string;
  repeat_config: StoredRepeatConfig | null;
  misfire_policy: MisfirePolicy;
  retry_policy: RetryPolicy | null;
  next_execution: Date;
  description: string | null;
  notes: string | null;
  agent_instance_id: string | null;
  user_profile_id: string | null;
  metadata: Record<string, unknown>;
  provider_options: Record<string, unknown>;
  respect_calling_hours: boolean;
  callee_timezone: string | null;
  calling_window: CallingWindow | null;
}

function fail(code: ErrorCode, field: string, issue: string): never {
  throw new InvalidScheduleInputException(code, field, issue);
}

function storedToInput(rc: StoredRepeatConfig): RepeatConfigDto {
  return {
    enabled: rc.enabled,
    frequency: rc.frequency,
    interval: rc.interval,
    cron: rc.cron ?? undefined,
    days_of_week: rc.days_of_week ?? undefined,
    end_date: rc.end_date ? rc.end_date.toISOString() : undefined,
    max_occurrences: rc.max_occurrences ?? undefined,
  };
}

function resolveInstant(input: string, timezone: string, field: string): Date {
  try {
    return resolveScheduledTime(input, timezone);
  } catch (error) {
    if (error instanceof UnknownTimezoneError) fail('SCHEDULE_002', 'timezone', error.message);
    if (error instanceof InvalidScheduledTimeError) fail(field === 'scheduled_time' ? 'SCHEDULE_003' : 'SCHEDULE_006', field, `${field}: ${error.message}`);
    throw error;
  }
}

// Turns API input (a create body, or an existing schedule with a PUT's changes on top) into the stored
// definition, with every rule of the API checked in one place. Throws InvalidScheduleInputException.
export function buildDefinition(
  input: CreateScheduleDto,
  context: { now: Date; defaultTimezone: string; maxObjectBytes: number; checkProviderOptions: ProviderOptionsCheck; previous?: Schedule; occurrencesUsed?: number },
): ScheduleDefinition {
  const phone = toE164(input.phone) ?? fail('SCHEDULE_001', 'phone', 'phone must be a valid phone number in international format (e.g. +14155552671)');
  const timezone = input.timezone ?? context.previous?.timezone ?? context.defaultTimezone;
  const timeChanged = !context.previous || input.scheduled_time !== context.previous.scheduled_time.toISOString();
  const scheduled = resolveInstant(input.scheduled_time, timezone, 'scheduled_time');
  if (timeChanged && scheduled.getTime() < context.now.getTime()) {
    fail('SCHEDULE_004', 'scheduled_time', `scheduled_time ${scheduled.toISOString()} is in the past`);
  }

  for (const [field, value] of [['metadata', input.metadata], ['provider_options', input.provider_options]] as const) {
    if (value === undefined) continue;
    const problem = checkFreeObject(value, field, context.maxObjectBytes);
    if (problem) fail(field === 'metadata' ? 'SCHEDULE_008' : 'SCHEDULE_014', problem.path, problem.issue);
  }
  const providerProblem = context.checkProviderOptions(input.provider_options ?? {});
  if (providerProblem) fail('SCHEDULE_014', providerProblem.field, providerProblem.issue);

  let repeat: StoredRepeatConfig | null = null;
  let next: Date = scheduled;
  const rc = input.repeat_config;
  if (rc && rc.enabled) {
    const endDate = rc.end_date !== undefined ? resolveInstant(rc.end_date, timezone, 'repeat_config.end_date') : null;
    if (endDate && endDate.getTime() < scheduled.getTime()) {
      fail('SCHEDULE_006', 'repeat_config.end_date', `end_date ${endDate.toISOString()} is before the start ${scheduled.toISOString()}`);
    }
    let compiled;
    try {
      compiled = compileRecurrence(scheduled, timezone, {
        enabled: true,
        frequency: rc.frequency,
        interval: rc.interval,
        cron: rc.cron,
        days_of_week: rc.days_of_week,
        end_date: endDate ?? undefined,
        max_occurrences: rc.max_occurrences,
      });
    } catch (error) {
      if (error instanceof InvalidCronError) fail('SCHEDULE_005', error.field, error.message);
      if (error instanceof InvalidRepeatConfigError) fail('SCHEDULE_007', error.field, error.message);
      if (error instanceof UnknownTimezoneError) fail('SCHEDULE_002', 'timezone', error.message);
      throw error;
    }
    repeat = {
      enabled: true,
      frequency: rc.frequency!,
      interval: rc.interval ?? 1,
      cron: rc.cron ?? null,
      days_of_week: rc.days_of_week ?? null,
      end_date: endDate,
      max_occurrences: rc.max_occurrences ?? null,
      compiled_cron: compiled.cron,
      interval_unit: compiled.unit,
      anchor: compiled.anchor,
    };
    // A schedule edited after it started continues from now, not from its original start.
    const from = scheduled.getTime() > context.now.getTime() ? scheduled : context.now;
    const first = nextWithinBounds({ repeat_config: repeat, timezone }, from, context.occurrencesUsed ?? 0, true);
    if (!first) fail('SCHEDULE_013', 'repeat_config', 'The recurrence has no occurrence between the start and its end');
    next = first;
  }

  const respectCallingHours = input.respect_calling_hours ?? true;
  // Waiving calling hours is for a call the person asked for at that time: one occurrence, never a campaign's.
  if (!respectCallingHours && (repeat || context.previous?.campaign_id)) {
    fail('SCHEDULE_017', 'respect_calling_hours', repeat ? 'Only a one-off schedule may waive calling hours' : 'A campaign schedule must respect calling hours');
  }

  return {
    phone,
    scheduled_time: scheduled,
    timezone,
    repeat_config: repeat,
    misfire_policy: input.misfire_policy ?? context.previous?.misfire_policy ?? 'skip',
    retry_policy: input.retry_policy ? toRetryPolicy(input.retry_policy) : null,
    next_execution: next,
    description: input.description ?? null,
    notes: input.notes ?? null,
    agent_instance_id: input.agent_instance_id ?? null,
    user_profile_id: input.user_profile_id ?? null,
    metadata: input.metadata ?? {},
    provider_options: input.provider_options ?? {},
    respect_calling_hours: respectCallingHours,
    callee_timezone: input.callee_timezone ?? null,
    calling_window: input.calling_window ? toCallingWindow(input.calling_window) : null,
  };
}

// The definition as this principal may write it: a token scoped to agent instances writes only theirs.
export function withAgentInstance(principal: Principal, definition: ScheduleDefinition): ScheduleDefinition {
  return { ...definition, agent_instance_id: agentInstanceFor(principal, definition.agent_instance_id) };
}

// A new API schedule as stored: its definition, its owner, and the state before its first occurrence.
export function newScheduleFields(
  definition: ScheduleDefinition,
  owner: { tenantId: string; sub: string; userProfileId?: string },
  now: Date,
): Omit<Schedule, 'id'> {
  return {
    ...definition,
    tenant_id: owner.tenantId,
    created_by: owner.sub,
    user_profile_id: definition.user_profile_id ?? owner.userProfileId ?? null,
    status: 'scheduled',
    call_type: 'outbound',
    occurrence_count: 0,
    last_call_status: null,
    last_error: null,
    last_occurrence_at: null,
    call_id: null,
    duration: null,
    job_id: null,
    campaign_id: null,
    campaign_contact_id: null,
    version: 1,
    created_at: now,
    last_updated: now,
  };
}

// The PUT merge: the stored schedule as a create body, with the request's fields on top.
export function mergeForUpdate(previous: Schedule, changes: Partial<CreateScheduleDto>): CreateScheduleDto {
  const base: CreateScheduleDto = {
    phone: previous.phone,
    scheduled_time: previous.scheduled_time.toISOString(),
    timezone: previous.timezone,
    description: previous.description ?? undefined,
    call_type: previous.call_type,
    agent_instance_id: previous.agent_instance_id ?? undefined,
    user_profile_id: previous.user_profile_id ?? undefined,
    notes: previous.notes ?? undefined,
    metadata: previous.metadata,
    repeat_config: previous.repeat_config ? storedToInput(previous.repeat_config) : undefined,
    misfire_policy: previous.misfire_policy,
    provider_options: previous.provider_options,
    retry_policy: previous.retry_policy ?? undefined,
    respect_calling_hours: previous.respect_calling_hours,
    callee_timezone: previous.callee_timezone,
    calling_window: previous.calling_window ? (previous.calling_window as CallingWindowDto) : undefined,
  };
  const merged: CreateScheduleDto = { ...base };
  for (const [key, value] of Object.entries(changes)) {
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  return merged;
}
