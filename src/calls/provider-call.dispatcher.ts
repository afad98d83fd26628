import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { CallDispatcher, CallLookup, PlaceCallRequest, PlaceCallResult, SEND_TICKET_VALID_MS } from './call-dispatcher';
import { CallProvider, ProviderAttempt, ProviderCallRequest } from './call-provider';
import { CallProviderRegistry } from './call-provider.registry';
import { CallLeaseRepository } from './pacing/call-lease.repository';
import { CallPacer, SEND_TOLERANCE_MS } from './pacing/call-pacer.service';
import { InvalidProviderOptionsError, resolveProviderOptions } from './provider-options';

const MAX_BACKOFF_MS = 30_000;
const SEAT_POLL_MS = 250;
// A call whose final status never arrives holds its concurrency seat at most this long.
const DEFAULT_SEAT_HOLD_MS = 4 * 3600_000;

// Places one attempt: picks the provider, holds a concurrency seat, waits for a pacing slot for every
// request it sends, retries only what the provider certainly did not process, and resolves an unknown
// outcome by looking the call up instead of dialing again.
@Injectable()
export class ProviderCallDispatcher extends CallDispatcher {
  private readonly logger = new Logger(ProviderCallDispatcher.name);

  constructor(
    private readonly providers: CallProviderRegistry,
    private readonly pacer: CallPacer,
    private readonly leases: CallLeaseRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {
    super();
  }

  async placeCall(request: PlaceCallRequest): Promise<PlaceCallResult> {
    const options = this.optionsOf(request);
    if (options instanceof InvalidProviderOptionsError) {
      return { kind: 'rejected', provider: this.providerNameOf(request), code: 'invalid_provider_options', message: `${options.field}: ${options.issue}` };
    }
    const provider = this.providers.get(options.provider);
    const call: ProviderCallRequest = { ...request, options };
    const key = provider.pacingKey(call);

    const seated = await this.takeSeat(key, call);
    if (!seated) return { kind: 'expired', provider: provider.name, detail: `no free call seat (MAX_CONCURRENT_CALLS=${this.config.dialing.maxConcurrentCalls}) before the grace window ended` };
    const result = await this.attempt(provider, key, call);
    // A call handed off to an agent backend is no longer ours to count: its attempt has ended.
    const ended = result.kind === 'rejected' || result.kind === 'expired' || result.kind === 'deferred' || result.kind === 'skipped' || (result.kind === 'placed' && result.handedOff === true);
    if (ended) await this.releaseSeat(call.callLogId);
    return result;
  }

  private async attempt(provider: CallProvider, key: string, call: ProviderCallRequest): Promise<PlaceCallResult> {
    const { providerMaxRetries, providerRetryBaseMs } = this.config.dialing;
    // The ticket the next request leaves under (onDialing), taken before the wait for its slot's start.
    let ticket: { at: number } | null = null;
    let tickets = 0;
    let retries = 0;
    for (;;) {
      const grant = await this.pacer.reserve(key, { dueAt: call.occurrenceAt, priority: call.options.priority, startBy: call.startBy ?? null });
      if (grant.kind === 'expired') {
        const detail =
          grant.reason === 'shutting_down'
            ? 'the service shut down while the call waited for a pacing slot'
            : `waited for a pacing slot (CALLS_PER_SECOND=${this.config.dialing.callsPerSecond}, CALLS_MIN_GAP_MS=${this.config.dialing.minGapMs}) past the grace window`;
        return { kind: 'expired', provider: provider.name, detail };
      }
      if (call.checkBeforeRequest) {
        const verdict = await call.checkBeforeRequest(new Date(Math.max(grant.startAt, this.clock.now().getTime())));
        // The slot goes unused: one wasted slot is cheaper than a call at the wrong hour.
        if (verdict.kind === 'defer') return { kind: 'deferred', provider: provider.name, until: verdict.until, detail: verdict.detail };
        if (verdict.kind === 'skip') return { kind: 'skipped', provider: provider.name, reason: verdict.reason, detail: verdict.detail };
      }
      // A ticket kept through a late slot may have aged waiting for the next one: a new one now, not after
      // the wait for this slot.
      if (ticket && Date.now() - ticket.at > SEND_TICKET_VALID_MS / 2) ticket = null;
      if (!ticket) {
        // Aged from before its insert: whoever finds the ticket taken may count from then.
        const asked = Date.now();
        tickets++;
        if (call.onDialing && !(await call.onDialing(provider.name, tickets))) return { kind: 'expired', provider: provider.name, detail: 'this run no longer owns the attempt' };
        ticket = { at: asked };
      }
      await sleep(Math.max(0, grant.startAt - this.clock.now().getTime()));
      // Sent late, this request could crowd the next second's window: give the slot up and take another.
      if (this.pacer.enabled && this.clock.now().getTime() - grant.startAt > SEND_TOLERANCE_MS) continue;
      // Its ticket aged while the request waited (a late slot, a stalled process): a new one first.
      if (Date.now() - ticket.at > SEND_TICKET_VALID_MS) {
        ticket = null;
        continue;
      }
      ticket = null;

      const startedAt = this.clock.now();
      const outcome: ProviderAttempt = await provider.placeCall(call).catch((error: unknown) => ({
        kind: 'unknown' as const,
        detail: error instanceof Error ? error.message : String(error),
      }));
      switch (outcome.kind) {
        case 'placed':
          return { kind: 'placed', provider: provider.name, callId: outcome.callId, ...(outcome.handedOff ? { handedOff: true } : {}) };
        case 'rejected':
          return { kind: 'rejected', provider: provider.name, code: outcome.code, message: outcome.message };
        case 'retryable':
          if (retries >= providerMaxRetries) {
            return { kind: 'rejected', provider: provider.name, code: outcome.code, message: `gave up after ${retries + 1} requests: ${outcome.message}` };
          }
          this.logger.warn(`${provider.name} did not process the call (${outcome.code}: ${outcome.message}); retry ${retries + 1}/${providerMaxRetries}`);
          // Exponential backoff with full jitter over its upper half.
          await sleep(Math.min(MAX_BACKOFF_MS, providerRetryBaseMs * 2 ** retries) * (0.5 + Math.random() / 2));
          retries++;
          continue;
        case 'unknown':
          return this.reconcileUnknown(provider, call, startedAt, outcome.detail);
      }
    }
  }

  async lookUpCall(request: PlaceCallRequest, firstRequestAt: Date): Promise<CallLookup> {
    const options = this.optionsOf(request);
    if (options instanceof InvalidProviderOptionsError) return { kind: 'unavailable', provider: this.providerNameOf(request), detail: `${options.field}: ${options.issue}` };
    const provider = this.providers.get(options.provider);
    const found = await provider.findPlacedCall({ ...request, options }, firstRequestAt, request.isKnownCall ?? (async () => false));
    return { ...found, provider: provider.name };
  }

  private optionsOf(request: PlaceCallRequest): ReturnType<typeof resolveProviderOptions> | InvalidProviderOptionsError {
    try {
      return resolveProviderOptions(request.providerOptions, this.config, 'ignore');
    } catch (error) {
      if (error instanceof InvalidProviderOptionsError) return error;
      throw error;
    }
  }

  private providerNameOf(request: PlaceCallRequest): string {
    return String(request.providerOptions.provider ?? this.config.callProvider);
  }

  // The request may have reached the provider. Before anything could dial again, ask the provider
  // whether this attempt created a call.
  private async reconcileUnknown(provider: CallProvider, call: ProviderCallRequest, startedAt: Date, detail: string): Promise<PlaceCallResult> {
    this.logger.warn(`${provider.name} request for call log ${call.callLogId} ended without an answer (${detail}); looking the call up`);
    await sleep(this.config.dialing.unknownLookupDelayMs);
    const found = await provider.findPlacedCall(call, startedAt, call.isKnownCall ?? (async () => false));
    switch (found.kind) {
      case 'found':
        return { kind: 'placed', provider: provider.name, callId: found.callId, reconciled: true };
      case 'not_found':
        return { kind: 'rejected', provider: provider.name, code: 'not_placed', message: `the request failed (${detail}) and ${provider.name} has no record of the call` };
      case 'unavailable':
        return { kind: 'unknown', provider: provider.name, detail: `${detail}; lookup: ${found.detail}` };
    }
  }

  private async takeSeat(key: string, call: ProviderCallRequest): Promise<boolean> {
    const seats = this.config.dialing.maxConcurrentCalls;
    if (seats <= 0) return true;
    const holdMs = call.options.timeLimit ? (call.options.timeLimit + 600) * 1000 : DEFAULT_SEAT_HOLD_MS;
    for (;;) {
      const now = this.clock.now();
      if (await this.leases.takeSeat(key, seats, call.callLogId, now, new Date(now.getTime() + holdMs))) return true;
      if (call.startBy && now.getTime() + SEAT_POLL_MS > call.startBy.getTime()) return false;
      await sleep(SEAT_POLL_MS);
    }
  }

  private async releaseSeat(callLogId: string): Promise<void> {
    if (this.config.dialing.maxConcurrentCalls > 0) await this.leases.releaseFor(callLogId).catch(() => undefined);
  }
}
