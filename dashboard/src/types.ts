import type { CallStats } from '../../src/tracking/call-stats';

// Response shapes of the public API (README, "API" and "Tracking API").

export type ScheduleStatus = 'scheduled' | 'paused' | 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'missed';

export interface ActiveSchedule {
  schedule_id: string;
  job_id: string | null;
  next_execution: string | null;
  status: ScheduleStatus;
}

export interface Schedule {
  id: string;
  phone: string;
  description: string | null;
  status: ScheduleStatus;
  scheduled_time: string | null;
  timezone: string;
  next_execution: string | null;
  last_call_status: string | null;
  occurrence_count: number;
  repeat_config: { enabled: boolean; frequency?: string | null; compiled_cron?: string | null } | null;
}

export interface TimelineEntry {
  status: string;
  ts: string | null;
  received_at: string | null;
  sequence_number: number | null;
  source: string;
  provider_status: string | null;
}

export interface CallLog {
  id: string;
  schedule_id: string | null;
  call_id: string | null;
  status: string;
  phone: string;
  timestamp: string | null;
  duration: number | null;
  attempt_number: number;
  error_code: string | null;
  error_message: string | null;
  timeline: TimelineEntry[];
}

// The tracking stats body (README, "Tracking API"); type-only, nothing of the server is bundled.
export type Counts = Omit<CallStats, 'by_status'>;

export interface DayStats extends Counts {
  date: string;
}

export interface StatsReport extends Counts {
  timezone: string;
  by_day?: DayStats[];
}

export interface Page {
  total: number;
  limit: number;
  offset: number;
}

export type Campaign = Record<string, unknown> & { id?: string; name?: string; status?: string; progress?: unknown };
