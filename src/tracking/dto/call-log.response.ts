import { CallLog, CallTimelineEntry } from '../call-log.types';

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

function timelineEntryView(e: CallTimelineEntry) {
  return {
    status: e.status,
    ts: iso(e.ts),
    received_at: iso(e.received_at),
    sequence_number: e.sequence_number,
    source: e.source,
    provider_status: e.provider_status,
  };
}

export function callLogView(l: CallLog) {
  return {
    id: l.id,
    created_by: l.created_by,
    user_profile_id: l.user_profile_id,
    agent_instance_id: l.agent_instance_id,
    schedule_id: l.schedule_id,
    call_id: l.call_id,
    status: l.status,
    call_type: l.call_type,
    phone: l.phone,
    timestamp: iso(l.timestamp),
    start_time: iso(l.start_time),
    end_time: iso(l.end_time),
    duration: l.duration,
    notes: l.notes,
    metadata: l.metadata,
    attempt_number: l.attempt_number,
    answered_by: l.answered_by,
    error_code: l.error_code,
    error_message: l.error_message,
    timeline: (l.timeline ?? []).map(timelineEntryView),
  };
}
