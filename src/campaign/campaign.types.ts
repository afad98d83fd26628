import type { CallingWindow } from '../calling-rules/calling-window';

export const CAMPAIGN_STATUSES = ['draft', 'running', 'paused', 'completed', 'cancelled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const CONTACT_STATUSES = ['pending', 'in_progress', 'completed', 'not_reached', 'failed', 'exhausted', 'skipped'] as const;
export type ContactStatus = (typeof CONTACT_STATUSES)[number];
export const SELECTABLE_CONTACT_STATUSES: ContactStatus[] = ['pending', 'not_reached'];

export const DUE_DATE_MATCHES = ['within', 'exactly'] as const;
export type DueDateMatch = (typeof DUE_DATE_MATCHES)[number];

export const CAMPAIGN_RETRY_STATUSES = ['busy', 'no_answer', 'failed'] as const;
export type CampaignRetryStatus = (typeof CAMPAIGN_RETRY_STATUSES)[number];

export interface Campaign {
  id: string;
  tenant_id: string;
  created_by: string;
  name: string;
  timezone: string;
  calling_window: CallingWindow;
  start_at: Date | null;
  end_at: Date | null;
  max_attempts: number;
  max_attempts_per_day: number | null;
  min_attempt_gap_minutes: number;
  retry_on: CampaignRetryStatus[];
  retry_delay: number;
  max_concurrent_calls: number;
  daily_cap: number | null;
  priority: number;
  provider_options: Record<string, unknown>;
  call_days_before: number | null;
  // Most attempts one pass starts (null: CAMPAIGN_TICK_BATCH).
  batch_size: number | null;
  // Due-date mode: `within` selects due dates from today to today+N, `exactly` only today+N.
  due_date_match: DueDateMatch;
  // Due-date mode: only contacts carrying this contact_status are released (seed 002: `CONFIRMED`).
  required_contact_status: string | null;
  status: CampaignStatus;
  created_at: Date;
  updated_at: Date;
}

export interface CampaignContact {
  id: string;
  campaign_id: string;
  tenant_id: string;
  phone: string;
  name: string | null;
  timezone: string | null;
  variables: Record<string, unknown>;
  due_date: string | null;
  // The contact's own status in the caller's system (an appointment's `CONFIRMED`); not the call progress.
  contact_status: string | null;
  status: ContactStatus;
  // Dial attempts that count towards max_attempts.
  attempts: number;
  // The attempt ledger's counter: every claimed attempt number, dialed or withdrawn.
  attempt_seq: number;
  current_attempt_id: string | null;
  last_attempt_at: Date | null;
  last_outcome: string | null;
  next_attempt_at: Date | null;
  // Attempts on the callee-local day `day_key`.
  day_key: string | null;
  day_attempts: number;
  created_at: Date;
  updated_at: Date;
}

export const ATTEMPT_STATES = ['open', 'settled'] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

export interface CampaignAttempt {
  id: string;
  campaign_id: string;
  contact_id: string;
  tenant_id: string;
  attempt_number: number;
  dial_number: number;
  schedule_id: string;
  state: AttemptState;
  outcome: string | null;
  call_id: string | null;
  error_code: string | null;
  created_at: Date;
  settled_at: Date | null;
}

export type ContactCounters = Record<ContactStatus, number> & { total: number };
