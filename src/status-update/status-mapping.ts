import { CallStatus } from '../tracking/call-status';
import { TwilioCallStatus } from './dto/twilio-status-callback.dto';

const MAP: Record<TwilioCallStatus, CallStatus> = {
  queued: 'queued',
  initiated: 'initiated',
  ringing: 'ringing',
  'in-progress': 'in_progress',
  completed: 'completed',
  busy: 'busy',
  failed: 'failed',
  'no-answer': 'no_answer',
  canceled: 'canceled',
};

export function toInternalStatus(status: TwilioCallStatus): CallStatus {
  return MAP[status];
}

// Twilio's Timestamp is an RFC 2822 date; a missing or unparsable one falls back to receipt time.
export function parseTwilioTimestamp(value: string | undefined, fallback: Date): Date {
  if (!value) return fallback;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? fallback : parsed;
}
