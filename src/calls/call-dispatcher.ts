import type { PlacedCallLookup } from './call-provider';

// A request leaves within this long of asking for its ticket (onDialing), or asks for a new one first. So
// once another party holds an attempt's next ticket, every request of the attempt has left by this long
// after that, and is answered or abandoned a request timeout later: a lookup after that is conclusive.
export const SEND_TICKET_VALID_MS = 5000;

export interface PlaceCallRequest {
  callLogId: string;
  scheduleId: string | null;
  tenantId: string;
  phone: string;
  occurrenceAt: Date;
  attemptNumber: number;
  agentInstanceId: string | null;
  providerOptions: Record<string, unknown>;
  metadata: Record<string, unknown>;
  // A call over the pacing limit waits; past this instant it may no longer start and is handled as a misfire.
  startBy?: Date;
  // Called right before each request leaves for the provider, with the request's ticket number: 1 before
  // the first (until then nothing was dialed), then a new one for each later request (a retry, or a
  // request whose ticket aged past SEND_TICKET_VALID_MS waiting). False means this run no longer owns the
  // attempt, and nothing may be sent.
  onDialing?: (provider: string, ticket: number) => Promise<boolean>;
  // Whether a provider call id already belongs to another attempt (used when reconciling an unknown one).
  isKnownCall?: (callId: string) => Promise<boolean>;
  // The calling rules again, for the instant the request would leave: waiting for a seat or a pacing slot
  // can carry a call past the end of the callee's window (or past a number's addition to the DNC list).
  checkBeforeRequest?: (at: Date) => Promise<PreRequestVerdict>;
}

export type PreRequestVerdict =
  | { kind: 'proceed' }
  | { kind: 'defer'; until: Date; detail: string }
  | { kind: 'skip'; reason: string; detail: string };

export type PlaceCallResult =
  | { kind: 'placed'; provider: string; callId: string; reconciled?: boolean; handedOff?: boolean }
  // The provider refused and certainly placed no call (a permanent 4xx): fail now, never retry blindly.
  | { kind: 'rejected'; provider: string; code: string; message: string }
  // The request may have reached the provider: record unknown and reconcile before any new dial.
  | { kind: 'unknown'; provider: string; detail: string }
  // Waited for a pacing slot past its start-by instant; nothing was dialed.
  | { kind: 'expired'; provider: string; detail: string }
  // checkBeforeRequest said not now (calling hours) or never (DNC); nothing was dialed.
  | { kind: 'deferred'; provider: string; until: Date; detail: string }
  | { kind: 'skipped'; provider: string; reason: string; detail: string };

// Whether the provider created a call for an attempt (isKnownCall excludes calls that belong to other
// attempts), and which provider answered.
export type CallLookup = PlacedCallLookup & { provider: string };

// The port the schedule module dials through; providers live behind it in src/calls.
export abstract class CallDispatcher {
  abstract placeCall(request: PlaceCallRequest): Promise<PlaceCallResult>;
  // A dispatcher that cannot ask its provider leaves the attempt's outcome unknown.
  async lookUpCall(request: PlaceCallRequest, _firstRequestAt: Date): Promise<CallLookup> {
    return { kind: 'unavailable', provider: String(request.providerOptions.provider ?? 'unknown'), detail: 'this dispatcher cannot look calls up' };
  }
}
