import { Campaign, CampaignAttempt, CampaignContact, ContactCounters } from '../campaign.types';
import { NOT_BEFORE_RELEASE } from '../campaign-runner.service';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function campaignView(c: Campaign, counters?: ContactCounters) {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    timezone: c.timezone,
    calling_window: c.calling_window,
    start_at: iso(c.start_at),
    end_at: iso(c.end_at),
    max_attempts: c.max_attempts,
    max_attempts_per_day: c.max_attempts_per_day,
    min_attempt_gap_minutes: c.min_attempt_gap_minutes,
    retry_on: c.retry_on,
    retry_delay: c.retry_delay,
    max_concurrent_calls: c.max_concurrent_calls,
    daily_cap: c.daily_cap,
    priority: c.priority,
    provider_options: c.provider_options,
    call_days_before: c.call_days_before,
    batch_size: c.batch_size ?? null,
    due_date_match: c.due_date_match ?? 'within',
    required_contact_status: c.required_contact_status ?? null,
    created_by: c.created_by,
    created_at: iso(c.created_at),
    updated_at: iso(c.updated_at),
    ...(counters ? { progress: counters } : {}),
  };
}

export function contactView(c: CampaignContact) {
  return {
    id: c.id,
    phone: c.phone,
    name: c.name,
    timezone: c.timezone,
    variables: c.variables,
    due_date: c.due_date,
    contact_status: c.contact_status ?? null,
    status: c.status,
    attempts: c.attempts,
    last_attempt_at: iso(c.last_attempt_at),
    last_outcome: c.last_outcome,
    next_attempt_at: c.next_attempt_at && c.next_attempt_at.getTime() < NOT_BEFORE_RELEASE.getTime() ? c.next_attempt_at.toISOString() : null,
    created_at: iso(c.created_at),
  };
}

// attempt_number counts dials towards max_attempts (an attempt withdrawn undialed does not count).
export function attemptView(a: CampaignAttempt, phone: string | null) {
  return {
    id: a.id,
    campaign_id: a.campaign_id,
    contact_id: a.contact_id,
    phone,
    attempt_number: a.dial_number,
    schedule_id: a.schedule_id,
    call_id: a.call_id ?? null,
    state: a.state,
    outcome: a.outcome,
    error_code: a.error_code ?? null,
    created_at: iso(a.created_at),
    settled_at: iso(a.settled_at),
  };
}
