import type { EndingTransition } from './occurrence-claim.transitions';
import type { CallingWindow } from '../calling-rules/calling-window';
import type { Frequency } from './recurrence/recurrence';

export const SCHEDULE_STATUSES = ['scheduled', 'paused', 'pending', 'running', 'completed', 'failed', 'cancelled', 'missed'] as const;
// The statuses of a schedule that is still live (GET /schedule/active, the gauges).
export const LIVE_SCHEDULE_STATUSES = ['scheduled', 'paused', 'pending', 'running'] as const;
export type ScheduleStatus = (typeof SCHEDULE_STATUSES)[number];
export const TERMINAL_SCHEDULE_STATUSES: readonly ScheduleStatus[] = ['completed', 'failed', 'cancelled', 'missed'];
export const MISFIRE_POLICIES = ['skip', 'run_once'] as const;
export type MisfirePolicy = (typeof MISFIRE_POLICIES)[number];

export const RETRYABLE_CALL_STATUSES = ['busy', 'no_answer', 'failed'] as const;
export const RETRY_BACKOFFS = ['fixed', 'exponential'] as const;

export interface RetryPolicy {
  max_attempts: number;
  retry_on: (typeof RETRYABLE_CALL_STATUSES)[number][];
  delay_seconds: number;
  backoff: (typeof RETRY_BACKOFFS)[number];
}

export interface StoredRepeatConfig {
  enabled: boolean;
  frequency: Frequency;
  interval: number;
  cron: string | null;
  days_of_week: number[] | null;
  end_date: Date | null;
  max_occurrences: number | null;
  // The compiled form: what the dispatcher iterates. Stored so that every instance agrees.
  compiled_cron: string;
  interval_unit: 'hour' | 'day' | 'week' | 'month' | null;
  anchor: Date;
}

export interface Schedule {
  id: string;
  tenant_id: string;
  created_by: string;
  user_profile_id: string | null;
  agent_instance_id: string | null;
  phone: string;
  scheduled_time: Date;
  timezone: string;
  status: ScheduleStatus;
  call_type: 'outbound';
  description: string | null;
  notes: string | null;
  metadata: Record<string, unknown>;
  provider_options: Record<string, unknown>;
  repeat_config: StoredRepeatConfig | null;
  misfire_policy: MisfirePolicy;
  retry_policy: RetryPolicy | null;
  // Calling rules: dial only inside the callee's window (false only for a one-off the person asked for).
  respect_calling_hours: boolean;
  // The callee's own zone; null derives it from the number, then falls back to `timezone`.
  callee_timezone: string | null;
  // null: CALLING_HOURS_DEFAULT every day.
  calling_window: CallingWindow | null;
  // Set only by the campaign module for the schedules it creates; never accepted from the API.
  campaign_id: string | null;
  campaign_contact_id: string | null;
  next_execution: Date | null;
  occurrence_count: number;
  last_call_status: string | null;
  // Why the latest attempt failed (a provider refusal, a call that ended busy or failed); null until one does.
  last_error: string | null;
  last_occurrence_at: Date | null;
  call_id: string | null;
  duration: number | null;
  job_id: string | null;
  version: number;
  created_at: Date;
  last_updated: Date;
}

export const EVENT_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type EventLevel = (typeof EVENT_LEVELS)[number];

export interface ScheduleEventRecord {
  id: string;
  schedule_id: string;
  tenant_id: string;
  ts: Date;
  level: EventLevel;
  type: string;
  message: string;
  data: Record<string, unknown>;
}

export const CLAIM_STATES = ['claimed', 'dialing', 'dialed', 'failed', 'missed', 'skipped', 'unknown', 'deferred'] as const;
export type ClaimState = (typeof CLAIM_STATES)[number];

export interface OccurrenceClaim {
  id: string;
  schedule_id: string;
  tenant_id: string;
  occurrence_at: Date;
  attempt_number: number;
  // 0 for the attempt's first run; each deferral to the callee's calling hours claims the next number.
  deferral: number;
  state: ClaimState;
  claimed_by: string;
  claimed_at: Date;
  call_log_id: string | null;
  call_id: string | null;
  provider: string | null;
  detail: string | null;
  // The last of CLAIM_TRANSITIONS applied to it.
  transition: string | null;
  updated_at: Date;
}

// How a claim's run ended without a call (see ClaimEndingDoc): everything its follow-up writes need.
export interface ClaimEnding {
  claim_id: string;
  transition: EndingTransition;
  schedule_id: string;
  tenant_id: string;
  phone: string;
  call_log_id: string | null;
  occurrence_at: Date;
  attempt_number: number;
  at: Date;
  by: string;
  provider: string | null;
  code: string | null;
  detail: string;
  extra: Record<string, unknown> | null;
}

export interface ActiveScheduleRecord {
  schedule_id: string;
  tenant_id: string;
  agent_instance_id?: string | null;
  job_id: string | null;
  next_execution: Date | null;
  status: ScheduleStatus;
  created_at: Date;
  last_updated: Date;
}
