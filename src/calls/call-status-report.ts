import type { CallStatus } from '../tracking/call-status';

// One report of a call's status in the service's own terms. Every provider adapter turns its wire format
// into this (Twilio's signed callbacks and call lookups, the agent backend's callbacks and hand-off), and
// the status-update path knows no provider's fields.
export interface CallStatusReport {
  callId: string;
  status: CallStatus;
  // The provider's own word for the status, kept in the call's timeline (Twilio's `no-answer`).
  providerStatus: string;
  // The provider's order of events, when it sends one: deliveries are deduplicated by it, else by status.
  sequence: number | null;
  // When it happened at the provider; null: when it was received.
  at: Date | null;
  duration: number | null;
  answeredBy: string | null;
  errorCode: string | null;
  errorMessage: string | null;
}
