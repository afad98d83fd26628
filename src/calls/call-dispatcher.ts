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
}

export type PlaceCallResult =
  | { kind: 'placed'; provider: string; callId: string }
  // The provider refused and certainly placed no call (a permanent 4xx): fail now, never retry blindly.
  | { kind: 'rejected'; provider: string; code: string; message: string }
  // The request may have reached the provider: record unknown and reconcile before any new dial.
  | { kind: 'unknown'; provider: string; detail: string };

// The port the schedule module dials through; providers live behind it in src/calls.
export abstract class CallDispatcher {
  abstract placeCall(request: PlaceCallRequest): Promise<PlaceCallResult>;
}
