import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AppConfig } from '../../config/app-config';
import { PlaceCallRequest } from '../call-dispatcher';
import { CallProvider, PlacedCallLookup, ProviderAttempt, ProviderCallState } from '../call-provider';
import { STATUS_CALLBACK_PATH } from '../webhook-paths';
import { FormParams, signTwilioRequest } from '../webhook-signature';

const OUTCOMES = ['completed', 'busy', 'no-answer', 'failed'] as const;
type SimulatedOutcome = (typeof OUTCOMES)[number];

// Dials nothing. It plays a realistic Twilio status sequence back into our own webhook, signed like
// Twilio signs, so simulated calls take exactly the code path real callbacks take.
@Injectable()
export class SimulatedCallProvider extends CallProvider implements OnApplicationShutdown {
  readonly name = 'simulated' as const;
  private readonly logger = new Logger(SimulatedCallProvider.name);
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly config: AppConfig,
    private readonly httpHost: HttpAdapterHost,
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
    const sequence: Array<{ status: string; extra?: FormParams }> =
      outcome === 'completed'
        ? [{ status: 'initiated' }, { status: 'ringing' }, { status: 'in-progress' }, { status: 'completed', extra: { CallDuration: String(duration), AnsweredBy: 'human' } }]
        : outcome === 'failed'
          ? [{ status: 'initiated' }, { status: 'failed', extra: { ErrorCode: '31005', SipResponseCode: '500', CallDuration: '0' } }]
          : [{ status: 'initiated' }, { status: 'ringing' }, { status: outcome, extra: { CallDuration: '0', SipResponseCode: outcome === 'busy' ? '486' : '480' } }];
    sequence.forEach((step, index) => {
      this.later((index + 1) * this.config.simulator.stepMs, () =>
        this.deliver(request, callId, index, step.status, step.extra ?? {}),
      );
    });
    return { kind: 'placed', callId };
  }

  private later(ms: number, fn: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn().catch((error: unknown) => this.logger.warn(`simulated callback failed: ${String(error)}`));
    }, ms);
    this.timers.add(timer);
  }

  private async deliver(request: PlaceCallRequest, callId: string, sequenceNumber: number, status: string, extra: FormParams): Promise<void> {
    const query = `?call_log_id=${encodeURIComponent(request.callLogId)}`;
    const params: FormParams = {
      AccountSid: this.config.twilio.accountSid ?? 'ACsimulated00000000000000000000000',
      CallSid: callId,
      CallStatus: status,
      SequenceNumber: String(sequenceNumber),
      Timestamp: new Date().toUTCString(),
      To: request.phone,
      From: this.config.twilio.fromNumber ?? '+15005550006',
      Direction: 'outbound-api',
      ApiVersion: '2010-04-01',
      CallbackSource: 'call-progress-events',
      ...extra,
    };
    const signedUrl = `${this.config.publicBaseUrl}${STATUS_CALLBACK_PATH}${query}`;
    const signature = signTwilioRequest(this.config.simulator.signingToken, signedUrl, params);
    const target = `${this.localBaseUrl()}${STATUS_CALLBACK_PATH}${query}`;
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
    for (let attempt = 0; attempt < 3 && !this.closed; attempt++) {
      try {
        const res = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        if (res.status < 500) return;
      } catch {
        // retried below, like Twilio's own callback retry
      }
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }

  // Callbacks go to this process directly; their signature still covers PUBLIC_BASE_URL, as Twilio's would.
  private localBaseUrl(): string {
    const server = this.httpHost.httpAdapter?.getHttpServer() as { address(): AddressInfo | string | null } | undefined;
    const address = server?.address();
    const port = address && typeof address === 'object' ? address.port : this.config.port;
    return `http://127.0.0.1:${port}`;
  }

  onApplicationShutdown(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
