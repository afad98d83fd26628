import { Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { CallProvider, PlacedCallLookup, ProviderAttempt, ProviderCallRequest, ProviderCallState } from '../call-provider';
import { STATUS_CALLBACK_PATH, TWIML_PATH } from '../webhook-paths';
import { describeError, wasNeverSent } from './network-errors';
import { twilioStatusOf } from './twilio-status';
import { TwilioClient, TwilioClientFactory } from './twilio-client.factory';

const STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'];
// A lookup tolerates this much clock difference between us and Twilio when matching an attempt's call.
const LOOKUP_SKEW_MS = 60_000;

interface TwilioRestError {
  status: number;
  code?: number;
  message: string;
}

function isRestError(error: unknown): error is TwilioRestError {
  return typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number';
}

export function classifyTwilioError(error: unknown): ProviderAttempt {
  if (isRestError(error)) {
    const code = String(error.code ?? error.status);
    // 429 (20429) and 5xx mean Twilio did not process the request: sending it again cannot double-dial.
    if (error.status === 429 || code === '20429' || error.status >= 500) return { kind: 'retryable', code, message: error.message };
    return { kind: 'rejected', code, message: error.message };
  }
  if (wasNeverSent(error)) return { kind: 'retryable', code: 'network', message: describeError(error) };
  // A reset or timeout after the request left: Twilio may have created the call.
  return { kind: 'unknown', detail: describeError(error) };
}

@Injectable()
export class TwilioCallProvider extends CallProvider implements OnModuleInit {
  readonly name = 'twilio' as const;
  private client: TwilioClient | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly factory: TwilioClientFactory,
  ) {
    super();
  }

  // The SDK loads its Calls resource on first use, which took ~150 ms: done at start, that delay never
  // lands between a paced slot and the request it was reserved for.
  onModuleInit(): void {
    if (this.config.twilio.accountSid && this.config.twilio.authToken) void this.twilio().calls;
  }

  pacingKey(): string {
    return `twilio:${this.config.twilio.accountSid ?? 'unconfigured'}`;
  }

  async placeCall(request: ProviderCallRequest): Promise<ProviderAttempt> {
    const o = request.options;
    const from = o.from ?? this.config.twilio.fromNumber;
    if (!this.config.twilio.accountSid || !this.config.twilio.authToken || !from) {
      return { kind: 'rejected', code: 'twilio_not_configured', message: 'TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER must be set to dial through Twilio' };
    }
    const base = this.config.publicBaseUrl;
    const logId = encodeURIComponent(request.callLogId);
    const instructions =
      o.twilio.applicationSid !== undefined ? {} : o.twiml !== null ? { twiml: o.twiml } : { url: o.url ?? this.config.twilio.defaultTwimlUrl ?? `${base}${TWIML_PATH}/${logId}`, method: 'POST' };
    const timeLimit = o.timeLimit ?? (this.config.twilio.timeLimitSeconds || null);
    try {
      const call = await this.twilio().calls.create({
        to: request.phone,
        from,
        ...instructions,
        // Validated pass-through parameters; they cannot name To or the status callback (refused on write).
        ...o.twilio,
        // The log id in the callback URL lets a callback find its log even before the CallSid is saved.
        statusCallback: `${base}${STATUS_CALLBACK_PATH}?call_log_id=${logId}`,
        statusCallbackEvent: STATUS_EVENTS,
        statusCallbackMethod: 'POST',
        timeout: o.timeout ?? this.config.twilio.callTimeoutSeconds,
        ...(timeLimit !== null ? { timeLimit } : {}),
        ...(o.machineDetection !== null ? { machineDetection: o.machineDetection, ...(o.asyncAmd ? { asyncAmd: 'true' } : {}) } : {}),
      });
      return { kind: 'placed', callId: call.sid };
    } catch (error) {
      return classifyTwilioError(error);
    }
  }

  // Twilio's list filters by To/From only to the day, so creation time is matched here; calls already
  // attached to another attempt are excluded by the caller.
  async findPlacedCall(request: ProviderCallRequest, attemptStartedAt: Date, exclude: (callId: string) => Promise<boolean>): Promise<PlacedCallLookup> {
    const from = request.options.from ?? this.config.twilio.fromNumber;
    try {
      const calls = await this.twilio().calls.list({ to: request.phone, from, limit: 50 });
      const candidates = calls
        .filter((c) => c.dateCreated && c.dateCreated.getTime() >= attemptStartedAt.getTime() - LOOKUP_SKEW_MS)
        .sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime());
      for (const call of candidates) if (!(await exclude(call.sid))) return { kind: 'found', callId: call.sid };
      return { kind: 'not_found' };
    } catch (error) {
      return { kind: 'unavailable', detail: describeError(error) };
    }
  }

  async fetchCall(callId: string): Promise<ProviderCallState | null> {
    try {
      const call = await this.twilio().calls(callId).fetch();
      return {
        callId: call.sid,
        status: twilioStatusOf(call.status),
        providerStatus: call.status,
        duration: call.duration ? Number(call.duration) : null,
        startTime: call.startTime ?? null,
        endTime: call.endTime ?? null,
        answeredBy: call.answeredBy ?? null,
      };
    } catch (error) {
      if (isRestError(error) && error.status === 404) return null;
      throw error;
    }
  }

  private twilio(): TwilioClient {
    this.client ??= this.factory.create();
    return this.client;
  }
}
