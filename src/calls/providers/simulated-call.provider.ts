import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { CallProvider, PlacedCallLookup, ProviderAttempt, ProviderCallRequest, ProviderCallState } from '../call-provider';
import type { SimulatedOutcome } from '../provider-options';
import { CallStatusInbox } from '../call-status-inbox';
import type { CallStatusReport } from '../call-status-report';

type Step = Pick<CallStatusReport, 'status' | 'providerStatus'> & Partial<Pick<CallStatusReport, 'duration' | 'answeredBy' | 'errorCode' | 'errorMessage'>>;

// What Twilio reports for each outcome, in its own status words (kept in the call's timeline).
// 'unknown' places no call (see placeCall).
function stepsOf(outcome: Exclude<SimulatedOutcome, 'unknown'>, duration: number): Step[] {
  const initiated: Step = { status: 'initiated', providerStatus: 'initiated' };
  const ringing: Step = { status: 'ringing', providerStatus: 'ringing' };
  switch (outcome) {
    case 'completed':
      return [initiated, ringing, { status: 'in_progress', providerStatus: 'in-progress' }, { status: 'completed', providerStatus: 'completed', duration, answeredBy: 'human' }];
    case 'failed':
      return [initiated, { status: 'failed', providerStatus: 'failed', duration: 0, errorCode: '31005', errorMessage: 'SIP 500' }];
    case 'busy':
      return [initiated, ringing, { status: 'busy', providerStatus: 'busy', duration: 0, errorMessage: 'SIP 486' }];
    case 'no-answer':
      return [initiated, ringing, { status: 'no_answer', providerStatus: 'no-answer', duration: 0, errorMessage: 'SIP 480' }];
  }
}

// Dials nothing. It hands a realistic status sequence, one report every SIMULATOR_STEP_MS, to the
// status-update path in this process (CallStatusInbox): the same path a provider's callback takes once its
// adapter has read it, without the HTTP request, the signature and the form that a callback costs.
@Injectable()
export class SimulatedCallProvider extends CallProvider implements OnApplicationShutdown {
  readonly name = 'simulated' as const;
  private readonly logger = new Logger(SimulatedCallProvider.name);
  // Reports still to come, by their timer, in the order they were set.
  private readonly pending = new Map<NodeJS.Timeout, () => Promise<void>>();
  private closed = false;

  constructor(
    private readonly config: AppConfig,
    private readonly inbox: CallStatusInbox,
  ) {
    super();
  }

  pacingKey(): string {
    return 'simulated';
  }

  async findPlacedCall(request: ProviderCallRequest): Promise<PlacedCallLookup> {
    if (request.options.simulate.outcome === 'unknown') return { kind: 'unavailable', detail: 'simulated: the provider cannot be asked' };
    return { kind: 'not_found' };
  }

  async fetchCall(): Promise<ProviderCallState | null> {
    return null;
  }

  async placeCall(request: ProviderCallRequest): Promise<ProviderAttempt> {
    const { outcome, duration } = request.options.simulate;
    // A request that timed out after it may have left, with no way to look it up: the dial's outcome is unknown.
    if (outcome === 'unknown') return { kind: 'unknown', detail: 'simulated: the request timed out' };
    const callId = `SM${randomBytes(16).toString('hex')}`;
    stepsOf(outcome ?? 'completed', duration ?? 42).forEach((step, index) => {
      this.later((index + 1) * this.config.simulator.stepMs, () => this.inbox.deliver({ callId, sequence: index, at: null, duration: null, answeredBy: null, errorCode: null, errorMessage: null, ...step }, request.callLogId));
    });
    return { kind: 'placed', callId };
  }

  private later(ms: number, fn: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      this.run(fn);
    }, ms);
    this.pending.set(timer, fn);
  }

  private run(fn: () => Promise<void>): void {
    fn().catch((error: unknown) => this.logger.warn(`simulated status report failed: ${String(error)}`));
  }

  // Shutdown (ShutdownDrain, once dispatches have drained): the reports still to come are handed in at
  // once, each call's in order, so that a simulated call placed before the signal still ends; the inbox's
  // drain waits for them.
  flush(): void {
    for (const [timer, fn] of this.pending) {
      clearTimeout(timer);
      this.pending.delete(timer);
      this.run(fn);
    }
  }

  onApplicationShutdown(): void {
    this.closed = true;
    for (const timer of this.pending.keys()) clearTimeout(timer);
    this.pending.clear();
  }
}
