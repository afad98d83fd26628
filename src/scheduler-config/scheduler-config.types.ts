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
};

export interface BatchEntry {
  tenant_id: string;
  campaign_id: string;
  contact_id: string;
  day: string;
  created_at: Date;
}

export const DAILY_RUN_JOB = 'scheduler.daily_run';
export const CLEANUP_JOB = 'scheduler.cleanup';
export const DEFAULT_RETENTION_DAYS = 30;
