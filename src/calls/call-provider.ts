import type { CallStatus } from '../tracking/call-status';
import type { CallProviderName } from '../config/environment.schema';
import type { PlaceCallRequest } from './call-dispatcher';
import type { ResolvedProviderOptions } from './provider-options';

export interface ProviderCallRequest extends PlaceCallRequest {
  options: ResolvedProviderOptions;
}

export type ProviderAttempt =
  // handedOff: the call is now the provider's own (an agent backend took it over); no call status follows
  // unless the provider reports one, so the attempt ends completed when it is accepted.
  | { kind: 'placed'; callId: string; handedOff?: boolean }
  // The provider did not process the request (429, 5xx, connection refused): safe to send again.
  | { kind: 'retryable'; code: string; message: string }
  | { kind: 'rejected'; code: string; message: string }
  | { kind: 'unknown'; detail: string };

export type PlacedCallLookup = { kind: 'found'; callId: string } | { kind: 'not_found' } | { kind: 'unavailable'; detail: string };

// A call looked up at its provider, its status translated by the adapter (null: a word it does not know).
export interface ProviderCallState {
  callId: string;
  status: CallStatus | null;
  providerStatus: string;
  duration: number | null;
  startTime: Date | null;
  endTime: Date | null;
  answeredBy: string | null;
}

export abstract class CallProvider {
  abstract readonly name: CallProviderName;
  // Calls to one pacing key share one calls-per-second budget (a Twilio account, a backend).
  abstract pacingKey(request: ProviderCallRequest): string;
  abstract placeCall(request: ProviderCallRequest): Promise<ProviderAttempt>;
  // After an attempt of unknown outcome: did it create a call? Asked before anything dials again.
  abstract findPlacedCall(request: ProviderCallRequest, attemptStartedAt: Date, exclude: (callId: string) => Promise<boolean>): Promise<PlacedCallLookup>;
  abstract fetchCall(callId: string): Promise<ProviderCallState | null>;
}
