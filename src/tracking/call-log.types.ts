import { CallStatus } from './call-status';

export interface CallTimelineEntry {
  status: CallStatus;
  ts: Date;
  received_at: Date;
  sequence_number: number | null;
  source: string;
  provider_status: string | null;
}

export interface CallLog {
  id: string;
  tenant_id: string;
  created_by: string;
  user_profile_id: string | null;
  agent_instance_id: string | null;
  schedule_id: string | null;
  occurrence_at: Date | null;
  call_id: string | null;
  provider: string | null;
  status: CallStatus;
  call_type: string;
  phone: string;
  timestamp: Date;
  start_time: Date | null;
  end_time: Date | null;
  duration: number | null;
  notes: string | null;
  metadata: Record<string, unknown>;
  attempt_number: number;
  answered_by: string | null;
  error_code: string | null;
  error_message: string | null;
  timeline: CallTimelineEntry[];
  last_updated: Date;
  // Set once the final status has been fed back into the schedule; absent on logs written before it existed.
  outcome_recorded_at?: Date | null;
  // Whether its schedule is a campaign attempt's; null when unknown (a log stored before it was kept).
  for_campaign?: boolean | null;
}
