import { Injectable } from '@nestjs/common';
import type { CallStatusReport } from './call-status-report';

export type CallStatusReceiver = (report: CallStatusReport, callLogId: string) => Promise<unknown>;

// Where a provider that runs inside this process (the simulator) hands in its reports, already in the
// service's own terms: no wire format, no signature, no HTTP. The status-update module attaches the
// receiver at startup, so this module does not depend on it.
@Injectable()
export class CallStatusInbox {
  private receiver: CallStatusReceiver | null = null;

  attach(receiver: CallStatusReceiver): void {
    this.receiver = receiver;
  }

  deliver(report: CallStatusReport, callLogId: string): Promise<unknown> {
    if (!this.receiver) return Promise.reject(new Error('no status receiver is attached'));
    return this.receiver(report, callLogId);
  }
}
