import { Injectable } from '@nestjs/common';
import type { CallStatusReport } from './call-status-report';
import { InFlight } from '../common/in-flight';

const ATTEMPTS = 3;
const RETRY_STEP_MS = 200;

export type CallStatusReceiver = (report: CallStatusReport, callLogId: string) => Promise<unknown>;

// Where a provider that runs inside this process (the simulator) hands in its reports, already in the
// service's own terms: no wire format, no signature, no HTTP. The status-update module attaches the
// receiver at startup, so this module does not depend on it.
@Injectable()
export class CallStatusInbox {
  private receiver: CallStatusReceiver | null = null;
  private readonly inFlight = new InFlight();

  attach(receiver: CallStatusReceiver): void {
    this.receiver = receiver;
  }

  deliver(report: CallStatusReport, callLogId: string): Promise<void> {
    return this.inFlight.track(this.applyWithRetries(report, callLogId));
  }

  // Tried again after a failure (say, an earlier copy of the report still being applied), as Twilio retries
  // a callback answered 5xx; a report still not applied is left to the call reconciler, as a lost callback
  // would be.
  private async applyWithRetries(report: CallStatusReport, callLogId: string): Promise<void> {
    const receiver = this.receiver;
    if (!receiver) throw new Error('no status receiver is attached');
    for (let attempt = 1; ; attempt++) {
      try {
        await receiver(report, callLogId);
        return;
      } catch (error) {
        if (attempt >= ATTEMPTS) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_STEP_MS * attempt));
    }
  }

  // At shutdown, like webhook requests in flight: the reports being applied finish, until `deadline`
  // (epoch ms). Returns how many had not.
  drain(deadline: number): Promise<number> {
    return this.inFlight.drain(deadline);
  }
}
