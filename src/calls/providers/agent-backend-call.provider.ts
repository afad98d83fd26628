import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { CallProvider, PlacedCallLookup, ProviderAttempt, ProviderCallRequest, ProviderCallState } from '../call-provider';
import { AgentBackendClient, BackendResponse } from './agent-backend.client';
import { describeError, wasNeverSent } from './network-errors';
import { isPlainObject } from '../../common/validation/free-object';
import { AGENT_BACKEND_CALLBACK_PATH } from '../webhook-paths';

function pick(body: unknown, ...keys: string[]): string | null {
  if (!isPlainObject(body)) return null;
  for (const key of keys) if (typeof body[key] === 'string' && body[key] !== '') return body[key];
  return null;
}

function errorText(res: BackendResponse): string {
  return pick(res.body, 'detail', 'message', 'error') ?? (typeof res.body === 'string' ? res.body.slice(0, 300) : `HTTP ${res.status}`);
}

// The HTTP voice-agent backend of the scheduler that called a separate calling backend (Calleroo):
// DIRECT starts the call with a prepared script, BRIEF_START has the backend write the script first.
@Injectable()
export class AgentBackendCallProvider extends CallProvider {
  readonly name = 'agent_backend' as const;

  constructor(
    private readonly config: AppConfig,
    private readonly http: AgentBackendClient,
  ) {
    super();
  }

  pacingKey(request: ProviderCallRequest): string {
    return `agent_backend:${this.baseUrl(request)}`;
  }

  async placeCall(request: ProviderCallRequest): Promise<ProviderAttempt> {
    const base = this.baseUrl(request);
    if (!base || !this.config.agentBackend.allowedBaseUrls.includes(base)) {
      return { kind: 'rejected', code: 'backend_not_allowed', message: 'The voice-agent backend is not configured or not allow-listed' };
    }
    const o = request.options;
    const p = o.payload;
    const common = {
      agentType: o.agentType ?? request.agentInstanceId ?? undefined,
      conversationId: o.conversationId ?? `${request.scheduleId ?? 'call'}:${request.occurrenceAt.toISOString()}:${request.attemptNumber}`,
    };
    const place = isPlainObject(p.place) ? p.place : {};
    const slots = isPlainObject(p.slots) ? p.slots : {};
    let scriptPreview = typeof p.scriptPreview === 'string' ? p.scriptPreview : null;

    if (o.mode === 'BRIEF_START') {
      // Nothing is dialed by /call/brief, so any failure here is safe to retry.
      let brief: BackendResponse;
      try {
        brief = await this.http.post(`${base}/call/brief`, { ...common, place: { ...place, phoneE164: request.phone }, slots, disclosure: p.disclosure ?? {}, fallbacks: p.fallbacks ?? {} });
      } catch (error) {
        return { kind: 'retryable', code: 'network', message: describeError(error) };
      }
      if (brief.status === 429 || brief.status >= 500) return { kind: 'retryable', code: String(brief.status), message: errorText(brief) };
      if (brief.status >= 300) return { kind: 'rejected', code: String(brief.status), message: `brief: ${errorText(brief)}` };
      scriptPreview = pick(brief.body, 'scriptPreview', 'script_preview', 'script');
      if (!scriptPreview) return { kind: 'rejected', code: 'brief_without_script', message: 'The backend returned no script from /call/brief' };
    }

    const start = {
      ...common,
      placeId: (typeof p.placeId === 'string' ? p.placeId : null) ?? (typeof place.placeId === 'string' ? place.placeId : null),
      phoneE164: request.phone,
      scriptPreview,
      slots,
      // Outcomes are signed with the internal token, so without one the backend gets no URL to report to.
      ...(this.config.agentBackend.internalToken ? { callbackUrl: `${this.config.publicBaseUrl}${AGENT_BACKEND_CALLBACK_PATH}?call_log_id=${encodeURIComponent(request.callLogId)}` } : {}),
    };
    let res: BackendResponse;
    try {
      res = await this.http.post(`${base}/call/start`, start);
    } catch (error) {
      if (wasNeverSent(error)) return { kind: 'retryable', code: 'network', message: describeError(error) };
      return { kind: 'unknown', detail: describeError(error) };
    }
    // Only "not processed" answers are retried; a 500 may have started the call.
    if (res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504) return { kind: 'retryable', code: String(res.status), message: errorText(res) };
    if (res.status >= 500) return { kind: 'unknown', detail: `HTTP ${res.status}: ${errorText(res)}` };
    if (res.status >= 300) return { kind: 'rejected', code: String(res.status), message: errorText(res) };
    const callId = pick(res.body, 'callId', 'call_id', 'callSid', 'id');
    if (!callId) return { kind: 'unknown', detail: 'The backend accepted the call but returned no call id' };
    // Seed 000's semantics: a call the backend accepted is handed to its agent, and the attempt is done.
    return { kind: 'placed', callId, handedOff: true };
  }

  // The backend has no lookup: an unknown start stays unknown rather than risk a second call.
  async findPlacedCall(): Promise<PlacedCallLookup> {
    return { kind: 'unavailable', detail: 'the voice-agent backend offers no call lookup' };
  }

  // A call id exists only for a call the backend accepted, which is a completed attempt; the reconciler
  // uses this to finish an attempt whose hand-off was cut off (a crash right after the dial).
  async fetchCall(callId: string): Promise<ProviderCallState | null> {
    return { callId, status: 'completed', providerStatus: 'completed', duration: null, startTime: null, endTime: null, answeredBy: null };
  }

  private baseUrl(request: ProviderCallRequest): string | null {
    return request.options.backendBaseUrl ?? this.config.agentBackend.defaultBaseUrl ?? null;
  }
}
