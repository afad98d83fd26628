import { ActiveScheduleRecord, Schedule, ScheduleEventRecord } from '../schedule.types';

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export function scheduleView(s: Schedule) {
  return {
    id: s.id,
    schedule_id: s.id,
    created_by: s.created_by,
    tenant_id: s.tenant_id,
    user_profile_id: s.user_profile_id,
    agent_instance_id: s.agent_instance_id,
    phone: s.phone,
    scheduled_time: iso(s.scheduled_time),
    timezone: s.timezone,
    status: s.status,
    call_type: s.call_type,
    description: s.description,
    notes: s.notes,
    metadata: s.metadata,
    provider_options: s.provider_options,
    repeat_config: s.repeat_config
      ? {
          enabled: s.repeat_config.enabled,
          frequency: s.repeat_config.frequency,
          interval: s.repeat_config.interval,
          cron: s.repeat_config.cron,
          days_of_week: s.repeat_config.days_of_week,
          end_date: iso(s.repeat_config.end_date),
          max_occurrences: s.repeat_config.max_occurrences,
          compiled_cron: s.repeat_config.compiled_cron,
        }
      : null,
    misfire_policy: s.misfire_policy,
    retry_policy: s.retry_policy ?? null,
    respect_calling_hours: s.respect_calling_hours,
    callee_timezone: s.callee_timezone,
    calling_window: s.calling_window,
    campaign_id: s.campaign_id,
    next_execution: iso(s.next_execution),
    last_call_status: s.last_call_status,
    last_error: s.last_error,
    occurrence_count: s.occurrence_count,
    last_occurrence_at: iso(s.last_occurrence_at),
    call_id: s.call_id,
    duration: s.duration,
    version: s.version,
    created_at: iso(s.created_at),
    last_updated: iso(s.last_updated),
  };
}

export function eventView(e: ScheduleEventRecord) {
  return { id: e.id, ts: iso(e.ts), level: e.level, type: e.type, message: e.message, data: e.data };
}

export function activeView(a: ActiveScheduleRecord) {
  return {
    schedule_id: a.schedule_id,
    job_id: a.job_id,
    next_execution: iso(a.next_execution),
    status: a.status,
    created_at: iso(a.created_at),
    last_updated: iso(a.last_updated),
  };
}
