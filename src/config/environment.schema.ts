import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MinLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { IsIanaTimezone } from '../common/validation/is-iana-timezone.decorator';

export const CALL_PROVIDERS = ['simulated', 'twilio', 'agent_backend'] as const;
export type CallProviderName = (typeof CALL_PROVIDERS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() !== '' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
const toBool = ({ value }: { value: unknown }) =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
// An integer variable within [min, max]: parsed from its string form, then range-checked.
function IntSetting(min: number, max?: number): PropertyDecorator {
  return applyDecorators(Transform(toInt), IsInt(), Min(min), ...(max === undefined ? [] : [Max(max)]));
}
// Hosts, then an optional /database and ?options; the host list may hold commas (a replica set).
export const MONGODB_URL_PATTERN = /^mongodb(\+srv)?:\/\/[^/?#]+(\/[^?#]*)?(\?[^#]*)?$/;
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

// Every variable the service reads. process.env is read in exactly one place (loadConfig).
export class EnvironmentVariables {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: string = 'development';

  @IntSetting(0, 65535)
  PORT: number = 3000;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^mongodb(\+srv)?:\/\/.+/, { message: 'MONGODB_URI must be a mongodb:// or mongodb+srv:// connection string' })
  MONGODB_URI?: string;

  // Seed 004's names (the original Schedule Module): MONGODB_URL plus DATABASE_NAME mean MONGODB_URI
  // with that database; loadConfig resolves them and refuses a conflict with MONGODB_URI.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(MONGODB_URL_PATTERN, { message: 'MONGODB_URL must be a mongodb:// or mongodb+srv:// connection string' })
  MONGODB_URL?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^[^/\\. "$*<>:|?]{1,63}$/, { message: 'DATABASE_NAME must be a MongoDB database name: 1-63 characters, none of / \\ . space " $ * < > : | ?' })
  DATABASE_NAME?: string;

  @IsString()
  @MinLength(1)
  EMBEDDED_DB_DIR: string = './data';

  @IsIn(['auto', 'mongod', 'mongodb-memory-server', 'ferretdb'])
  EMBEDDED_DB_ENGINE: string = 'auto';

  // The embedded FerretDB keeps its data in this PostgreSQL database (created if missing) instead of
  // SQLite files under EMBEDDED_DB_DIR: the same service dispatches about 10x faster on it.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'FERRETDB_POSTGRESQL_URL must be a postgres:// or postgresql:// connection string' })
  FERRETDB_POSTGRESQL_URL?: string;

  @IsString({ message: 'JWT_SECRET is required' })
  @MinLength(32, { message: 'JWT_SECRET must be at least 32 bytes' })
  JWT_SECRET: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  JWT_ISSUER?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  JWT_AUDIENCE?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/-----BEGIN PUBLIC KEY-----/, { message: 'JWT_PUBLIC_KEY must be a PEM public key' })
  JWT_PUBLIC_KEY?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  PUBLIC_BASE_URL?: string;

  // Seed 004's name for the full status callback URL (PUBLIC_BASE_URL + /webhook/call-status).
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: 'TWILIO_WEBHOOK_URL must be an absolute http(s) URL' })
  TWILIO_WEBHOOK_URL?: string;

  @IsIn(CALL_PROVIDERS)
  CALL_PROVIDER: CallProviderName = 'simulated';

  @ValidateIf((env: EnvironmentVariables) => env.CALL_PROVIDER === 'twilio' || env.TWILIO_ACCOUNT_SID !== undefined)
  @Matches(/^AC[0-9a-fA-F]{32}$/, { message: 'TWILIO_ACCOUNT_SID must look like AC followed by 32 hex digits' })
  TWILIO_ACCOUNT_SID?: string;

  @ValidateIf((env: EnvironmentVariables) => env.CALL_PROVIDER === 'twilio')
  @IsString({ message: 'TWILIO_AUTH_TOKEN is required when CALL_PROVIDER=twilio' })
  @MinLength(16, { message: 'TWILIO_AUTH_TOKEN must be at least 16 characters' })
  TWILIO_AUTH_TOKEN?: string;

  @ValidateIf((env: EnvironmentVariables) => env.CALL_PROVIDER === 'twilio')
  @Matches(/^\+[1-9]\d{6,14}$/, { message: 'TWILIO_FROM_NUMBER must be an E.164 number' })
  TWILIO_FROM_NUMBER?: string;

  // Extra caller ids a schedule may pick with provider_options.from; anything else is refused.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^\+[1-9]\d{6,14}(\s*,\s*\+[1-9]\d{6,14})*$/, { message: 'TWILIO_FROM_NUMBERS must be a comma list of E.164 numbers' })
  TWILIO_FROM_NUMBERS?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  TWILIO_DEFAULT_TWIML_URL?: string;

  @IntSetting(5, 600)
  TWILIO_CALL_TIMEOUT_SECONDS: number = 30;

  @IntSetting(0, 14_400)
  TWILIO_TIME_LIMIT_SECONDS: number = 0;

  @IntSetting(1000, 120_000)
  TWILIO_REQUEST_TIMEOUT_MS: number = 15_000;

  // Sends the Twilio SDK's API requests to another origin (a local fake provider in tests and benchmarks).
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  TWILIO_API_BASE_URL?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^wss?:\/\/.+/, { message: 'VOICE_AGENT_STREAM_URL must be a ws:// or wss:// URL' })
  VOICE_AGENT_STREAM_URL?: string;

  @Transform(emptyToUndefined)
  @ValidateIf((env: EnvironmentVariables) => env.CALL_PROVIDER === 'agent_backend' || env.DEFAULT_BACKEND_BASE_URL !== undefined)
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: 'DEFAULT_BACKEND_BASE_URL must be an http(s) URL; it is required when CALL_PROVIDER=agent_backend' })
  DEFAULT_BACKEND_BASE_URL?: string;

  // Other voice-agent backends a schedule may name in provider_options.backend_base_url (SSRF guard).
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  BACKEND_BASE_URL_ALLOWLIST?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  BACKEND_INTERNAL_TOKEN?: string;

  @IntSetting(1000, 120_000)
  BACKEND_REQUEST_TIMEOUT_MS: number = 15_000;

  // Seed 000 clients (the /tasks routes) may send this bearer token instead of a JWT; their tasks belong
  // to TASKS_API_TENANT_ID.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'TASKS_API_TOKEN must be at least 16 characters' })
  TASKS_API_TOKEN?: string;

  @Transform(emptyToUndefined)
  @ValidateIf((env: EnvironmentVariables) => env.TASKS_API_TOKEN !== undefined || env.TASKS_API_TENANT_ID !== undefined)
  @IsString({ message: 'TASKS_API_TENANT_ID is required when TASKS_API_TOKEN is set' })
  @MinLength(1, { message: 'TASKS_API_TENANT_ID is required when TASKS_API_TOKEN is set' })
  @Matches(/^.{1,128}$/, { message: 'TASKS_API_TENANT_ID must be at most 128 characters' })
  TASKS_API_TENANT_ID?: string;

  @IntSetting(0, 1000)
  CALLS_PER_SECOND: number = 1;

  // Pacing below one call a second: the least time between two provider requests, cluster-wide (0 = none).
  @IntSetting(0, 3_600_000)
  CALLS_MIN_GAP_MS: number = 0;

  @IntSetting(0, 100_000)
  MAX_CONCURRENT_CALLS: number = 0;

  @IntSetting(0, 10)
  PROVIDER_MAX_RETRIES: number = 4;

  @IntSetting(10, 60_000)
  PROVIDER_RETRY_BASE_MS: number = 500;

  @IntSetting(0, 600_000)
  UNKNOWN_LOOKUP_DELAY_MS: number = 3000;

  @IntSetting(1, 7 * 24 * 60)
  CALL_RECONCILE_AFTER_MINUTES: number = 30;

  // An API list or tracking read stops at this limit and the API answers 503: the database stops its own work
  // (maxTimeMS) and the service stops waiting (an abort signal), whichever part is slow.
  @IntSetting(100, 600_000)
  API_QUERY_MAX_TIME_MS: number = 15_000;

  // Twilio ends any call after 4 h unless TimeLimit says otherwise: a dial of unknown outcome with no
  // callback after that was never connected, or is over.
  @IntSetting(1, 7 * 24 * 60)
  CALL_UNKNOWN_SETTLE_AFTER_MINUTES: number = 250;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^\s*\+[1-9]\d{6,14}(\s*,\s*\+[1-9]\d{6,14})*\s*$/, { message: 'SAFE_MODE_ALLOWED_NUMBERS must be a comma list of E.164 numbers' })
  SAFE_MODE_ALLOWED_NUMBERS?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'SIMULATOR_SIGNING_TOKEN must be at least 16 characters' })
  SIMULATOR_SIGNING_TOKEN?: string;

  @IntSetting(0, 60_000)
  SIMULATOR_STEP_MS: number = 200;

  // Status callbacks processed at once; the rest wait in memory. FerretDB (SQLite) slows down sharply
  // past a few concurrent writers; MongoDB takes far more.
  @IntSetting(1, 256)
  STATUS_CALLBACK_CONCURRENCY: number = 4;

  @IsIanaTimezone({ message: 'SCHEDULER_TIMEZONE must be an IANA timezone name' })
  SCHEDULER_TIMEZONE: string = 'UTC';

  // Default calling hours in the callee's local time, every day: HH:mm-HH:mm (end may be 24:00).
  @Matches(/^\s*([01]\d|2[0-3]):[0-5]\d\s*-\s*(([01]\d|2[0-3]):[0-5]\d|24:00)\s*$/, { message: 'CALLING_HOURS_DEFAULT must be HH:mm-HH:mm, e.g. 08:00-21:00' })
  CALLING_HOURS_DEFAULT: string = '08:00-21:00';

  @IntSetting(1, 100)
  SCHEDULER_MAX_INSTANCES: number = 3;

  @IntSetting(1, 7 * 24 * 3600)
  SCHEDULER_MISFIRE_GRACE_TIME: number = 300;

  @IntSetting(50, 60_000)
  SCHEDULER_POLL_INTERVAL_MS: number = 5000;

  @IntSetting(1, 10_000)
  SCHEDULER_CONCURRENCY: number = 8;

  @IntSetting(100, 600_000)
  SCHEDULER_JOB_POLL_INTERVAL_MS: number = 5000;

  @IntSetting(0, 600_000)
  SCHEDULER_LOOKAHEAD_MS: number = 10_000;

  @IntSetting(1, 100_000)
  SCHEDULER_SWEEP_BATCH: number = 1000;

  @IntSetting(1000)
  SCHEDULER_LOCK_LIFETIME_MS: number = 10 * 60 * 1000;

  @IntSetting(0)
  SCHEDULER_SHUTDOWN_TIMEOUT_MS: number = 25_000;

  @IntSetting(10)
  SCHEDULER_UNKNOWN_CLAIM_AFTER_SECONDS: number = 300;

  // How often each running campaign's Agenda job re-reads the database and starts the next attempts.
  @IntSetting(200, 600_000)
  CAMPAIGN_TICK_INTERVAL_MS: number = 15_000;

  // How many contacts one campaign tick considers at most.
  @IntSetting(1, 10_000)
  CAMPAIGN_TICK_BATCH: number = 500;

  @Transform(toBool)
  @IsBoolean()
  SCHEDULER_ENABLED: boolean = true;

  @Matches(/^\s*(log|webhook)?(\s*,\s*(log|webhook))*\s*$/, { message: 'NOTIFICATION_CHANNELS must be a comma list of: log, webhook' })
  NOTIFICATION_CHANNELS: string = 'log,webhook';

  @IntSetting(100, 120_000)
  NOTIFICATION_WEBHOOK_TIMEOUT_MS: number = 10_000;

  @Matches(/^\s*(\d{1,9}(\s*,\s*\d{1,9}){0,19})?\s*$/, { message: 'NOTIFICATION_RETRY_DELAYS_MS must be a comma list of at most 20 delays in ms' })
  NOTIFICATION_RETRY_DELAYS_MS: string = '30000,120000,600000,3600000,21600000';

  @Transform(toBool)
  @IsBoolean()
  NOTIFICATION_ALLOW_PRIVATE_URLS: boolean = false;

  @IntSetting(100, 600_000)
  NOTIFICATION_STREAM_HEARTBEAT_MS: number = 15_000;

  @IntSetting(50, 60_000)
  NOTIFICATION_STREAM_POLL_MS: number = 1000;

  @IntSetting(1, 1_000_000)
  NOTIFICATION_HISTORY_MAX_PER_TENANT: number = 1000;

  @IntSetting(60, 90 * 24 * 3600)
  NOTIFICATION_HISTORY_MAX_AGE_SECONDS: number = 24 * 3600;

  @IntSetting(60, 365 * 24 * 3600)
  NOTIFICATION_DELIVERY_RETENTION_SECONDS: number = 7 * 24 * 3600;

  @IntSetting(1000, 24 * 3600 * 1000)
  NOTIFICATION_PRUNE_INTERVAL_MS: number = 5 * 60 * 1000;

  @IntSetting(256, 1024 * 1024)
  METADATA_MAX_BYTES: number = 16 * 1024;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevelName = 'log';

  // RATE_LIMIT_PER_MINUTE=0 turns the per-token limit off; CORS_ORIGINS empty means no CORS headers at all.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'METRICS_TOKEN must be at least 16 characters' })
  METRICS_TOKEN?: string;

  @IntSetting(1, 3650)
  AUDIT_RETENTION_DAYS: number = 90;

  @IntSetting(0, 1_000_000)
  RATE_LIMIT_PER_MINUTE: number = 600;

  @IntSetting(1, 10_240)
  REQUEST_BODY_LIMIT_KB: number = 256;

  @Matches(/^\s*(https?:\/\/[^\s,]+(\s*,\s*https?:\/\/[^\s,]+)*)?\s*$/, { message: 'CORS_ORIGINS must be a comma list of http(s) origins' })
  CORS_ORIGINS: string = '';

  @IntSetting(60, 24 * 3600)
  ADMIN_SESSION_TTL_SECONDS: number = 900;
}
