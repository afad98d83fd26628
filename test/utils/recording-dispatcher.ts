import { CallDispatcher, PlaceCallRequest, PlaceCallResult } from '../../src/calls/call-dispatcher';

export interface RecordedDial {
  scheduleId: string | null;
  occurrenceAt: string;
  phone: string;
  at: number;
}

// Stands in for the telephone network in tests that count dials: the provider's own record is the judge.
export class RecordingCallDispatcher extends CallDispatcher {
  constructor(readonly dials: RecordedDial[] = []) {
    super();
  }

  async placeCall(request: PlaceCallRequest): Promise<PlaceCallResult> {
    this.dials.push({ scheduleId: request.scheduleId, occurrenceAt: request.occurrenceAt.toISOString(), phone: request.phone, at: Date.now() });
    return { kind: 'placed', provider: 'recording', callId: `RC${request.callLogId.padStart(32, '0')}` };
  }
}
