import { CallStatus, isFinalCallStatus } from '../../tracking/call-status';
import type { CallStatusReport } from '../call-status-report';

export const TWILIO_CALL_STATUSES = ['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'failed', 'no-answer', 'canceled'] as const;
export type TwilioCallStatus = (typeof TWILIO_CALL_STATUSES)[number];

const INTERNAL: Record<TwilioCallStatus, CallStatus> = {
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

// Null for a word Twilio may add later: not acted on.
export function twilioStatusOf(status: string): CallStatus | null {
  return (INTERNAL as Record<string, CallStatus | undefined>)[status] ?? null;
}

// The form fields of a status callback that are acted on (validated at the webhook).
export interface TwilioCallbackFields {
  CallSid: string;
  CallStatus: TwilioCallStatus;
  SequenceNumber?: string;
  CallDuration?: string;
  AnsweredBy?: string;
  SipResponseCode?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
  Timestamp?: string;
}

export function twilioCallbackReport(fields: TwilioCallbackFields): CallStatusReport {
  const status = INTERNAL[fields.CallStatus];
  // A failed, busy or unanswered call without Twilio's error message still says what the carrier answered.
  const sip = fields.SipResponseCode && isFinalCallStatus(status) && status !== 'completed' ? `SIP ${fields.SipResponseCode}` : null;
  return {
    callId: fields.CallSid,
    status,
    providerStatus: fields.CallStatus,
    sequence: fields.SequenceNumber !== undefined ? Number(fields.SequenceNumber) : null,
    at: parseTwilioTimestamp(fields.Timestamp),
    duration: fields.CallDuration !== undefined ? Number(fields.CallDuration) : null,
    answeredBy: fields.AnsweredBy || null,
    errorCode: fields.ErrorCode || null,
    errorMessage: fields.ErrorMessage || sip,
  };
}

// Twilio's Timestamp is an RFC 2822 date; a missing or unparsable one is null (the time of receipt).
function parseTwilioTimestamp(value: string | undefined): Date | null {
  if (!value) return null;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}
