import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { PlaceCallRequest } from '../call-dispatcher';
import { CallProvider, PlacedCallLookup, ProviderAttempt, ProviderCallState } from '../call-provider';
import { CallStatusInbox } from '../call-status-inbox';
import type { CallStatusReport } from '../call-status-report';

const OUTCOMES = ['completed', 'busy', 'no-answer', 'failed'] as const;
type SimulatedOutcome = (typeof OUTCOMES)[number];

type Step = Pick<CallStatusReport, 'status' | 'providerStatus'> & Partial<Pick<CallStatusReport, 'duration' | 'answeredBy' | 'errorCode' | 'errorMessage'>>;

// What Twilio reports for each outcome, in its own status words (kept in the call's timeline).
function stepsOf(outcome: SimulatedOutcome, duration: number): Step[] {
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
  private readonly timers = new Set<NodeJS.Timeout>();
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

  async findPlacedCall(request: PlaceCallRequest): Promise<PlacedCallLookup> {
    if (request.providerOptions.simulate_outcome === 'unknown') return { kind: 'unavailable', detail: 'simulated: the provider cannot be asked' };
    return { kind: 'not_found' };
  }

  async fetchCall(): Promise<ProviderCallState | null> {
    return null;
  }

  async placeCall(request: PlaceCallRequest): Promise<ProviderAttempt> {
    const requested = request.providerOptions.simulate_outcome;
    // A request that timed out after it may have left, with no way to look it up: the dial's outcome is unknown.
    if (requested === 'unknown') return { kind: 'unknown', detail: 'simulated: the request timed out' };
    const callId = `SM${randomBytes(16).toString('hex')}`;
    const outcome: SimulatedOutcome = OUTCOMES.includes(requested as SimulatedOutcome) ? (requested as SimulatedOutcome) : 'completed';
    const duration = typeof request.providerOptions.simulate_duration === 'number' ? request.providerOptions.simulate_duration : 42;
    stepsOf(outcome, duration).forEach((step, index) => {
      this.later((index + 1) * this.config.simulator.stepMs, () => this.deliver(request.callLogId, { callId, sequence: index, at: null, duration: null, answeredBy: null, errorCode: null, errorMessage: null, ...step }));
    });
    return { kind: 'placed', callId };
  }

  private later(ms: number, fn: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn().catch((error: unknown) => this.logger.warn(`simulated status report failed: ${String(error)}`));
    }, ms);
    this.timers.add(timer);
  }

  // Tried again after a failure, as Twilio retries a callback answered 5xx; a report still not applied is
  // left to the call reconciler, as a lost callback would be.
  private async deliver(callLogId: string, report: CallStatusReport): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.inbox.deliver(report, callLogId);
        return;
      } catch (error) {
        if (attempt >= 2 || this.closed) throw error;
      }
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }

  onApplicationShutdown(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
