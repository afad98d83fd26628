import type { CallListInstanceCreateOptions } from 'twilio/lib/rest/api/v2010/account/call';
import { CALL_PROVIDERS, CallProviderName } from '../config/environment.schema';
import type { AppConfig } from '../config/app-config';
import { isPlainObject } from '../common/validation/free-object';

export const MACHINE_DETECTION = ['Enable', 'DetectMessageEnd'] as const;
export const BACKEND_MODES = ['DIRECT', 'BRIEF_START'] as const;
export type BackendMode = (typeof BACKEND_MODES)[number];

export interface SayOptions {
  text: string;
  voice: string | null;
  language: string | null;
}

export interface ResolvedProviderOptions {
  provider: CallProviderName;
  priority: number;
  from: string | null;
  url: string | null;
  twiml: string | null;
  say: SayOptions | null;
  timeout: number | null;
  timeLimit: number | null;
  machineDetection: (typeof MACHINE_DETECTION)[number] | null;
  asyncAmd: boolean;
  backendBaseUrl: string | null;
  mode: BackendMode;
  agentType: string | null;
  conversationId: string | null;
  payload: Record<string, unknown>;
  // Further calls.create parameters, by the SDK's names, sent to Twilio as given.
  twilio: Partial<CallListInstanceCreateOptions>;
  // What the simulator is asked to play; null: its default.
  simulate: { outcome: SimulatedOutcome | null; duration: number | null };
  raw: Record<string, unknown>;
}

// What the simulator can be asked to play; 'unknown' is a request that timed out and cannot be looked up.
export const SIMULATED_OUTCOMES = ['completed', 'busy', 'no-answer', 'failed', 'unknown'] as const;
export type SimulatedOutcome = (typeof SIMULATED_OUTCOMES)[number];
// Whole seconds, at most time_limit's 4 h.
export const SIMULATED_DURATION_MAX_S = 14_400;

// Keys the service reads itself (above, and the simulator's); each has its own check.
const SERVICE_KEYS = [
  'provider', 'priority', 'from', 'url', 'twiml', 'say', 'timeout', 'time_limit', 'machine_detection', 'async_amd',
  'backend_base_url', 'mode', 'agent_type', 'conversation_id', 'payload', 'simulate_outcome', 'simulate_duration',
];
// The rest of Twilio's calls.create parameters, snake_case as in our API. The typed values make the
// compiler check every name against the SDK's CallListInstanceCreateOptions.
const TWILIO_PASS_THROUGH = {
  application_sid: 'applicationSid',
  async_amd_status_callback: 'asyncAmdStatusCallback',
  async_amd_status_callback_method: 'asyncAmdStatusCallbackMethod',
  byoc: 'byoc',
  call_reason: 'callReason',
  call_token: 'callToken',
  caller_id: 'callerId',
  client_notification_url: 'clientNotificationUrl',
  fallback_method: 'fallbackMethod',
  fallback_url: 'fallbackUrl',
  machine_detection_silence_timeout: 'machineDetectionSilenceTimeout',
  machine_detection_speech_end_threshold: 'machineDetectionSpeechEndThreshold',
  machine_detection_speech_threshold: 'machineDetectionSpeechThreshold',
  machine_detection_timeout: 'machineDetectionTimeout',
  method: 'method',
  record: 'record',
  recording_channels: 'recordingChannels',
  recording_configuration_id: 'recordingConfigurationId',
  recording_status_callback: 'recordingStatusCallback',
  recording_status_callback_event: 'recordingStatusCallbackEvent',
  recording_status_callback_method: 'recordingStatusCallbackMethod',
  recording_track: 'recordingTrack',
  send_digits: 'sendDigits',
  sip_auth_password: 'sipAuthPassword',
  sip_auth_username: 'sipAuthUsername',
  trim: 'trim',
} as const satisfies Record<string, keyof CallListInstanceCreateOptions>;
// Twilio parameters the service sets itself: status callbacks must reach this service, To is the schedule's.
const SERVICE_OWNED_TWILIO_KEYS = ['to', 'status_callback', 'status_callback_event', 'status_callback_method'];

// Writes refuse unknown keys; a dial ignores them, so schedules stored before keys were checked still dial.
export type UnknownKeys = 'reject' | 'ignore';

function twilioPassThrough(raw: Record<string, unknown>, unknownKeys: UnknownKeys): Partial<CallListInstanceCreateOptions> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (SERVICE_KEYS.includes(key)) continue;
    const field = `provider_options.${key}`;
    const owned = SERVICE_OWNED_TWILIO_KEYS.includes(key);
    if (owned || !Object.hasOwn(TWILIO_PASS_THROUGH, key)) {
      if (unknownKeys === 'ignore') continue;
      if (owned) throw new InvalidProviderOptionsError(field, `${key} is set by the service and cannot be given`);
      throw new InvalidProviderOptionsError(field, `unknown key ${key}: give one the service reads or a Twilio calls.create parameter in snake_case (see docs/calls.md, "Providers")`);
    }
    const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!(scalar(value) || (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')))) {
      throw new InvalidProviderOptionsError(field, `${key} must be a string, number, boolean or list of strings`);
    }
    if (/(_url|_callback)$/.test(key)) httpUrl(String(value), field);
    out[TWILIO_PASS_THROUGH[key as keyof typeof TWILIO_PASS_THROUGH]] = value;
  }
  return out as Partial<CallListInstanceCreateOptions>;
}

export class InvalidProviderOptionsError extends Error {
  constructor(
    readonly field: string,
    readonly issue: string,
  ) {
    super(issue);
  }
}

type Dialing = Pick<AppConfig, 'callProvider' | 'twilio' | 'agentBackend'>;

function str(raw: Record<string, unknown>, key: string, max: number): string | null {
  const value = raw[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new InvalidProviderOptionsError(`provider_options.${key}`, `${key} must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

function int(raw: Record<string, unknown>, key: string, min: number, max: number): number | null {
  const value = raw[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidProviderOptionsError(`provider_options.${key}`, `${key} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function httpUrl(value: string, field: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new InvalidProviderOptionsError(field, `${field.split('.').pop()} must be an absolute http(s) URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new InvalidProviderOptionsError(field, 'only http and https URLs are allowed');
  return value;
}

// provider_options holds the keys the service acts on and Twilio's further calls.create parameters; any
// other key is refused. Checked here, once when a schedule is written and again right before dialing
// (config may have changed).
export function resolveProviderOptions(raw: Record<string, unknown>, config: Dialing, unknownKeys: UnknownKeys = 'reject'): ResolvedProviderOptions {
  const provider = (raw.provider ?? config.callProvider) as CallProviderName;
  if (!CALL_PROVIDERS.includes(provider)) {
    throw new InvalidProviderOptionsError('provider_options.provider', `provider must be one of ${CALL_PROVIDERS.join(', ')}`);
  }
  const from = str(raw, 'from', 16);
  if (from !== null && !config.twilio.fromNumbers.includes(from)) {
    throw new InvalidProviderOptionsError('provider_options.from', 'from must be one of the configured caller numbers (TWILIO_FROM_NUMBER, TWILIO_FROM_NUMBERS)');
  }
  const url = str(raw, 'url', 2048);
  if (url !== null) httpUrl(url, 'provider_options.url');
  const twiml = str(raw, 'twiml', 4000);
  if (url !== null && twiml !== null) throw new InvalidProviderOptionsError('provider_options.twiml', 'give url or twiml, not both');

  let say: SayOptions | null = null;
  if (raw.say !== undefined) {
    const s = typeof raw.say === 'string' ? { text: raw.say } : raw.say;
    if (!isPlainObject(s)) throw new InvalidProviderOptionsError('provider_options.say', 'say must be a string or {text, voice, language}');
    const text = str(s, 'text', 4000);
    if (text === null) throw new InvalidProviderOptionsError('provider_options.say.text', 'say.text is required');
    say = { text, voice: str(s, 'voice', 64), language: str(s, 'language', 16) };
  }

  const machineDetection = raw.machine_detection ?? null;
  if (machineDetection !== null && !MACHINE_DETECTION.includes(machineDetection as (typeof MACHINE_DETECTION)[number])) {
    throw new InvalidProviderOptionsError('provider_options.machine_detection', `machine_detection must be one of ${MACHINE_DETECTION.join(', ')}`);
  }
  if (raw.async_amd !== undefined && typeof raw.async_amd !== 'boolean') {
    throw new InvalidProviderOptionsError('provider_options.async_amd', 'async_amd must be a boolean');
  }

  // Server-side request forgery guard: the service only ever posts to backends an operator configured.
  let backendBaseUrl = str(raw, 'backend_base_url', 2048);
  if (backendBaseUrl !== null) {
    backendBaseUrl = httpUrl(backendBaseUrl, 'provider_options.backend_base_url').replace(/\/+$/, '');
    if (!config.agentBackend.allowedBaseUrls.includes(backendBaseUrl)) {
      throw new InvalidProviderOptionsError('provider_options.backend_base_url', 'backend_base_url is not in the configured allow-list (DEFAULT_BACKEND_BASE_URL, BACKEND_BASE_URL_ALLOWLIST)');
    }
  }
  const mode = (raw.mode ?? 'DIRECT') as BackendMode;
  if (!BACKEND_MODES.includes(mode)) throw new InvalidProviderOptionsError('provider_options.mode', `mode must be one of ${BACKEND_MODES.join(', ')}`);
  if (raw.payload !== undefined && !isPlainObject(raw.payload)) throw new InvalidProviderOptionsError('provider_options.payload', 'payload must be an object');
  const twilio = twilioPassThrough(raw, unknownKeys);
  if (twilio.applicationSid !== undefined && (url !== null || twiml !== null || say !== null)) {
    throw new InvalidProviderOptionsError('provider_options.application_sid', 'give application_sid or url, twiml or say, not both');
  }
  const simulate = simulatedCall(raw, unknownKeys);
  if (provider === 'agent_backend' && backendBaseUrl === null && !config.agentBackend.defaultBaseUrl) {
    throw new InvalidProviderOptionsError('provider_options.backend_base_url', 'no backend: set DEFAULT_BACKEND_BASE_URL or give an allow-listed backend_base_url');
  }

  return {
    provider,
    priority: int(raw, 'priority', -1000, 1000) ?? 0,
    from,
    url,
    twiml,
    say,
    timeout: int(raw, 'timeout', 5, 600),
    timeLimit: int(raw, 'time_limit', 1, 14_400),
    machineDetection: machineDetection as ResolvedProviderOptions['machineDetection'],
    asyncAmd: raw.async_amd === true,
    backendBaseUrl,
    mode,
    agentType: str(raw, 'agent_type', 64),
    conversationId: str(raw, 'conversation_id', 128),
    payload: isPlainObject(raw.payload) ? raw.payload : {},
    twilio,
    simulate,
    raw,
  };
}

// Checked on write only: a schedule stored before these checks still dials, and the simulator plays its
// default for a value it cannot use.
function simulatedCall(raw: Record<string, unknown>, unknownKeys: UnknownKeys): ResolvedProviderOptions['simulate'] {
  let outcome: SimulatedOutcome | null = null;
  if (raw.simulate_outcome !== undefined) {
    if ((SIMULATED_OUTCOMES as readonly unknown[]).includes(raw.simulate_outcome)) outcome = raw.simulate_outcome as SimulatedOutcome;
    else if (unknownKeys === 'reject') throw new InvalidProviderOptionsError('provider_options.simulate_outcome', `simulate_outcome must be one of ${SIMULATED_OUTCOMES.join(', ')}`);
  }
  // The simulator reports it as the call's duration, as Twilio's CallDuration would be.
  let duration: number | null = null;
  try {
    duration = int(raw, 'simulate_duration', 0, SIMULATED_DURATION_MAX_S);
  } catch (error) {
    if (unknownKeys === 'reject') throw error;
  }
  return { outcome, duration };
}
