export interface SchedulerConfig {
  tenant_id: string;
  enabled: boolean;
  daily_call_time: string;
  timezone: string;
  max_calls_per_day: number;
  max_concurrent_calls: number;
  retry_failed_after_hours: number;
  max_retries_per_contact: number;
  skip_if_called_within_days: number;
  // A cron expression in `timezone`; when set it replaces daily_call_time (seed 002: `0 9 * * 1-5`).
  cron_schedule: string | null;
  // When set, the window of every due-date campaign in the batch; null: each campaign's call_days_before.
  days_before_due: number | null;
  updated_at: Date | null;
}

export type SchedulerSettings = Omit<SchedulerConfig, 'tenant_id' | 'updated_at'>;

// The renewal auto-scheduler's defaults.
export const DEFAULT_SCHEDULER_SETTINGS: SchedulerSettings = {
  enabled: true,
  daily_call_time: '10:00',
  timezone: 'UTC',
  max_calls_per_day: 50,
  max_concurrent_calls: 5,
  retry_failed_after_hours: 24,
  max_retries_per_contact: 3,
  skip_if_called_within_days: 7,
  cron_schedule: null,
  days_before_due: null,
};

export const BATCH_REASONS = ['due_date', 'follow_up', 'manual'] as const;
export type BatchReason = (typeof BATCH_REASONS)[number];

// A contact released (or booked) for one day: by the daily batch (`due_date`) or by hand.
export interface BatchEntry {
  tenant_id: string;
  campaign_id: string;
  contact_id: string;
  day: string;
  created_at: Date;
  reason?: BatchReason;
  // When the contact becomes selectable; the batch's own releases are due at once.
  release_at?: Date | null;
  priority?: number;
  notes?: string | null;
  cancelled_at?: Date | null;
}

export interface StoredBatchEntry extends Required<BatchEntry> {
  id: string;
}

export const DAILY_RUN_JOB = 'scheduler.daily_run';
export const CLEANUP_JOB = 'scheduler.cleanup';
export const DEFAULT_RETENTION_DAYS = 30;
