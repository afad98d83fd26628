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
  // Runtime mode. Only validated: the service's code does not branch on it; libraries such as Express read
  // process.env.NODE_ENV themselves.
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: string = 'development';

  // HTTP port the API listens on; 0 picks a free port.
  @IntSetting(0, 65535)
  PORT: number = 3000;

  // MongoDB to use, with the database in its path. Unset (and no MONGODB_URL): an embedded server is started
  // under EMBEDDED_DB_DIR, database call_scheduler.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^mongodb(\+srv)?:\/\/.+/, { message: 'MONGODB_URI must be a mongodb:// or mongodb+srv:// connection string' })
  MONGODB_URI?: string;

  // Seed 004's alias for MONGODB_URI (the original Schedule Module), its database in DATABASE_NAME or in its
  // own path. Set with MONGODB_URI, both must name the same connection or the service refuses to start.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(MONGODB_URL_PATTERN, { message: 'MONGODB_URL must be a mongodb:// or mongodb+srv:// connection string' })
  MONGODB_URL?: string;

  // Seed 004's database for MONGODB_URL. Refused without MONGODB_URL (put it in MONGODB_URI's path), and when
  // MONGODB_URL's path names another database.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^[^/\\. "$*<>:|?]{1,63}$/, { message: 'DATABASE_NAME must be a MongoDB database name: 1-63 characters, none of / \\ . space " $ * < > : | ?' })
  DATABASE_NAME?: string;

  // Data directory of the embedded database, used only without MONGODB_URI or MONGODB_URL;
  // a server already running there is reused.
  @IsString()
  @MinLength(1)
  EMBEDDED_DB_DIR: string = './data';

  // Embedded engine. auto tries a mongod on PATH, then MongoDB from mongodb-memory-server (downloaded once),
  // then FerretDB; naming one tries only that one.
  @IsIn(['auto', 'mongod', 'mongodb-memory-server', 'ferretdb'])
  EMBEDDED_DB_ENGINE: string = 'auto';

  // The embedded FerretDB keeps its data in this PostgreSQL database (created if missing) instead of
  // SQLite files under EMBEDDED_DB_DIR: the same service dispatches about 10x faster on it.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'FERRETDB_POSTGRESQL_URL must be a postgres:// or postgresql:// connection string' })
  FERRETDB_POSTGRESQL_URL?: string;

  // HS256 key of API bearer tokens. Also signs job-admin cookies and seeds the simulator's default signing
  // key, so it is required even with JWT_PUBLIC_KEY.
  @IsString({ message: 'JWT_SECRET is required' })
  @MinLength(32, { message: 'JWT_SECRET must be at least 32 bytes' })
  JWT_SECRET: string;

  // iss claim every bearer token must carry; unset: not checked.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  JWT_ISSUER?: string;

  // aud claim every bearer token must carry; unset: not checked.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  JWT_AUDIENCE?: string;

  // PEM public key: when set, bearer tokens must be RS256 signed by it and HS256 tokens are refused.
  // Literal \n escapes become newlines.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/-----BEGIN PUBLIC KEY-----/, { message: 'JWT_PUBLIC_KEY must be a PEM public key' })
  JWT_PUBLIC_KEY?: string;

  // URL providers reach this service at: callback and TwiML URLs are built from it and webhook signatures
  // checked against it. Unset: http://localhost:PORT. https:// also turns on HSTS and Secure admin cookies.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  PUBLIC_BASE_URL?: string;

  // Seed 004's name for the full status callback URL, PUBLIC_BASE_URL + /webhook/call-status (no query):
  // PUBLIC_BASE_URL is derived from it and, if also set, must agree.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: 'TWILIO_WEBHOOK_URL must be an absolute http(s) URL' })
  TWILIO_WEBHOOK_URL?: string;

  // Provider of schedules that pick none in provider_options.provider. simulated dials nobody: it plays
  // Twilio's status sequence into this service's status path.
  @IsIn(CALL_PROVIDERS)
  CALL_PROVIDER: CallProviderName = 'simulated';

  // Twilio account calls are placed with; required with CALL_PROVIDER=twilio and checked whenever set. Pacing
  // and call seats are counted per account.
  @ValidateIf((env: EnvironmentVariables) => env.CALL_PROVIDER === 'twilio' || env.TWILIO_ACCOUNT_SID !== undefined)
  @Matches(/^AC[0-9a-fA-F]{32}$/, { message: 'TWILIO_ACCOUNT_SID must look like AC followed by 32 hex digits' })
  TWILIO_ACCOUNT_SID?: string;

  // Twilio API secret; status webhooks signed with it are accepted.
  // Required and checked only with CALL_PROVIDER=twilio.
  @ValidateIf((env: EnvironmentVariables) => env.CALL_PROVIDER === 'twilio')
  @IsString({ message: 'TWILIO_AUTH_TOKEN is required when CALL_PROVIDER=twilio' })
  @MinLength(16, { message: 'TWILIO_AUTH_TOKEN must be at least 16 characters' })
  TWILIO_AUTH_TOKEN?: string;

  // Default caller id of Twilio calls.
  // Required and checked only with CALL_PROVIDER=twilio.
  @ValidateIf((env: EnvironmentVariables) => env.CALL_PROVIDER === 'twilio')
  @Matches(/^\+[1-9]\d{6,14}$/, { message: 'TWILIO_FROM_NUMBER must be an E.164 number' })
  TWILIO_FROM_NUMBER?: string;

  // Extra caller ids a schedule may pick with provider_options.from; anything else is refused.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^\+[1-9]\d{6,14}(\s*,\s*\+[1-9]\d{6,14})*$/, { message: 'TWILIO_FROM_NUMBERS must be a comma list of E.164 numbers' })
  TWILIO_FROM_NUMBERS?: string;

  // TwiML URL Twilio fetches for calls whose schedule gives no url, twiml or application_sid. Unset: this
  // service's PUBLIC_BASE_URL/webhook/twiml/{call_log_id}, which plays say or VOICE_AGENT_STREAM_URL.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  TWILIO_DEFAULT_TWIML_URL?: string;

  // How long Twilio lets a call ring before no-answer (Timeout); provider_options.timeout overrides it.
  @IntSetting(5, 600)
  TWILIO_CALL_TIMEOUT_SECONDS: number = 30;

  // Longest a Twilio call may last (TimeLimit); 0 sends none, leaving Twilio's 4 h.
  // provider_options.time_limit wins.
  @IntSetting(0, 14_400)
  TWILIO_TIME_LIMIT_SECONDS: number = 0;

  // HTTP timeout of one Twilio API request;
  // a timeout after sending makes the attempt unknown (then looked up).
  @IntSetting(1000, 120_000)
  TWILIO_REQUEST_TIMEOUT_MS: number = 15_000;

  // Sends the Twilio SDK's API requests to another origin (a local fake provider in tests and benchmarks).
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  TWILIO_API_BASE_URL?: string;

  // ws(s):// voice-agent stream this service's TwiML connects answered calls to, unless the schedule has
  // provider_options.say. Unset: the schedule's description is read aloud.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^wss?:\/\/.+/, { message: 'VOICE_AGENT_STREAM_URL must be a ws:// or wss:// URL' })
  VOICE_AGENT_STREAM_URL?: string;

  // Voice-agent backend of schedules that name none (always allow-listed);
  // required with CALL_PROVIDER=agent_backend.
  @Transform(emptyToUndefined)
  @ValidateIf((env: EnvironmentVariables) => env.CALL_PROVIDER === 'agent_backend' || env.DEFAULT_BACKEND_BASE_URL !== undefined)
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: 'DEFAULT_BACKEND_BASE_URL must be an http(s) URL; it is required when CALL_PROVIDER=agent_backend' })
  DEFAULT_BACKEND_BASE_URL?: string;

  // Comma list of other backends a schedule may name in provider_options.backend_base_url (SSRF guard).
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  BACKEND_BASE_URL_ALLOWLIST?: string;

  // Bearer token sent with every backend request, and the key backend outcome callbacks are signed with.
  // Unset: backends get no callbackUrl and their callbacks are refused.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  BACKEND_INTERNAL_TOKEN?: string;

  // HTTP timeout of one voice-agent backend request; a timed-out /call/start makes the attempt unknown.
  @IntSetting(1000, 120_000)
  BACKEND_REQUEST_TIMEOUT_MS: number = 15_000;

  // Seed 000 clients (the /tasks routes) may send this bearer token instead of a JWT; their tasks belong
  // to TASKS_API_TENANT_ID.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'TASKS_API_TOKEN must be at least 16 characters' })
  TASKS_API_TOKEN?: string;

  // Tenant the tasks created with TASKS_API_TOKEN belong to; required with it.
  @Transform(emptyToUndefined)
  @ValidateIf((env: EnvironmentVariables) => env.TASKS_API_TOKEN !== undefined || env.TASKS_API_TENANT_ID !== undefined)
  @IsString({ message: 'TASKS_API_TENANT_ID is required when TASKS_API_TOKEN is set' })
  @MinLength(1, { message: 'TASKS_API_TENANT_ID is required when TASKS_API_TOKEN is set' })
  @Matches(/^.{1,128}$/, { message: 'TASKS_API_TENANT_ID must be at most 128 characters' })
  TASKS_API_TENANT_ID?: string;

  // Provider requests per second, cluster-wide, per Twilio account or backend; 0 = no rate pacing
  // (CALLS_MIN_GAP_MS may still pace).
  @IntSetting(0, 1000)
  CALLS_PER_SECOND: number = 1;

  // Pacing below one call a second: the least time between two provider requests, cluster-wide, per Twilio
  // account or backend (0 = none). The wider of this and CALLS_PER_SECOND's spacing applies.
  @IntSetting(0, 3_600_000)
  CALLS_MIN_GAP_MS: number = 0;

  // Per cent of CALLS_PER_SECOND held back so that requests reaching the provider late (the HTTP client, a
  // busy process, the network) still never put more than CALLS_PER_SECOND into any one second: the slots
  // are 1/(CPS × (1 − this/100)) s apart, and a request's lateness may use up to that much of a second.
  // The same on every instance, changed on all at once as CALLS_PER_SECOND is (instances with different
  // slot widths do not see each other's slots). 4 absorbs 42 ms of lateness at most; the bench measured up
  // to 29 ms on its local fake provider. Raise it where requests travel further or the process is busier.
  @IntSetting(0, 50)
  CALLS_RATE_HEADROOM_PERCENT: number = 4;

  // Calls in flight (dialed, no final status yet), cluster-wide, per Twilio account or backend; 0 = no limit.
  // A call over it waits for a seat.
  @IntSetting(0, 100_000)
  MAX_CONCURRENT_CALLS: number = 0;

  // Retries of a dial request the provider did not process (429, 5xx, connection refused; a backend's 500 is
  // unknown, not retried): nothing was dialed, so a retry cannot double-dial.
  @IntSetting(0, 10)
  PROVIDER_MAX_RETRIES: number = 4;

  // First retry delay; doubles per retry, jittered down to half, capped at 30 s.
  @IntSetting(10, 60_000)
  PROVIDER_RETRY_BASE_MS: number = 500;

  // Wait before asking the provider whether a dial request that got no answer created a call. Agent backends
  // cannot be asked: the dial stays unknown.
  @IntSetting(0, 600_000)
  UNKNOWN_LOOKUP_DELAY_MS: number = 3000;

  // A placed call not final this long after its last update is fetched from the provider (lost callback).
  @IntSetting(1, 7 * 24 * 60)
  CALL_RECONCILE_AFTER_MINUTES: number = 30;

  // A final call log whose schedule outcome is recorded moves to the call log archive once nothing has
  // updated it for this long: the collection every dial and callback writes stays about this many hours of
  // calls (on the stand-in database every update reads its whole collection).
  @IntSetting(1, 24 * 366)
  CALL_LOG_ARCHIVE_AFTER_HOURS: number = 24;

  // A database command with no reply this long after it was sent fails, and its connection is closed. Without
  // it, a server that stops answering but keeps the connection open holds the sweeper's due read, and with it
  // all due discovery, for ever (a stall after FerretDB's restart in the reliability suite looked like this).
  // Well above the longest command measured here: 12 s, the due list's read over 100,000 schedules on
  // FerretDB. 0: no limit.
  @IntSetting(0, 3_600_000)
  MONGODB_SOCKET_TIMEOUT_MS: number = 60_000;

  // An API list, tracking or audit read stops at this limit and the API answers 503 SERVICE_002: the database
  // stops its own work (maxTimeMS) and the service stops waiting (an abort signal), whichever part is slow.
  // A tracking read that waits for an identical one to end first (they share work) may take twice as long.
  @IntSetting(100, 600_000)
  API_QUERY_MAX_TIME_MS: number = 15_000;

  // A dial of unknown outcome with no callback this long after is settled as unknown: its one-time schedule
  // fails, never redialed. Keep it above 4 h: Twilio ends any call by then unless TimeLimit says otherwise.
  @IntSetting(1, 7 * 24 * 60)
  CALL_UNKNOWN_SETTLE_AFTER_MINUTES: number = 250;

  // Safe mode: when set, only these numbers are dialed; every other dial is skipped (safe_mode) and never
  // reaches a provider. Empty: off.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^\s*\+[1-9]\d{6,14}(\s*,\s*\+[1-9]\d{6,14})*\s*$/, { message: 'SAFE_MODE_ALLOWED_NUMBERS must be a comma list of E.164 numbers' })
  SAFE_MODE_ALLOWED_NUMBERS?: string;

  // A second key status webhooks are accepted with, besides TWILIO_AUTH_TOKEN: for a client that plays
  // Twilio's callbacks of simulated calls (the simulator itself hands its reports in without HTTP).
  // Unset: TWILIO_AUTH_TOKEN, else derived from JWT_SECRET.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'SIMULATOR_SIGNING_TOKEN must be at least 16 characters' })
  SIMULATOR_SIGNING_TOKEN?: string;

  // Delay between a simulated call's successive status reports.
  @IntSetting(0, 60_000)
  SIMULATOR_STEP_MS: number = 200;

  // Status callbacks one instance processes at once; the rest wait in memory. FerretDB (SQLite) slows down
  // sharply past a few concurrent writers; MongoDB takes far more.
  @IntSetting(1, 256)
  STATUS_CALLBACK_CONCURRENCY: number = 4;

  // Time zone of schedules and campaigns created without one.
  @IsIanaTimezone({ message: 'SCHEDULER_TIMEZONE must be an IANA timezone name' })
  SCHEDULER_TIMEZONE: string = 'UTC';

  // Default calling hours in the callee's local time, every day, for dials whose schedule or campaign sets no
  // window: HH:mm-HH:mm (end may be 24:00).
  @Matches(/^\s*([01]\d|2[0-3]):[0-5]\d\s*-\s*(([01]\d|2[0-3]):[0-5]\d|24:00)\s*$/, { message: 'CALLING_HOURS_DEFAULT must be HH:mm-HH:mm, e.g. 08:00-21:00' })
  CALLING_HOURS_DEFAULT: string = '08:00-21:00';

  // Most occurrences of one recurring schedule in flight (claimed or dialing) at once; the next one waits.
  @IntSetting(1, 100)
  SCHEDULER_MAX_INSTANCES: number = 3;

  // Seconds an occurrence may start late before its schedule's misfire_policy applies; with skip, a call
  // still waiting for pacing or a seat past it is not dialed.
  @IntSetting(1, 7 * 24 * 3600)
  SCHEDULER_MISFIRE_GRACE_TIME: number = 300;

  // How often each instance reads due schedules into timers; schedules created or moved on an instance are
  // timed there at once. Slow reads (FerretDB) stretch it, up to 60 s.
  @IntSetting(50, 60_000)
  SCHEDULER_POLL_INTERVAL_MS: number = 5000;

  // Agenda jobs one instance runs at once (webhook deliveries: half of it), deferred and retried dials included.
  @IntSetting(1, 10_000)
  SCHEDULER_CONCURRENCY: number = 8;

  // Due occurrences one instance dispatches at once. A dispatch mostly waits (on the database and on the
  // provider's answer, 100-500 ms at Twilio), and what the dispatches write meanwhile shares commands, so
  // this bounds waiting, not work; CALLS_PER_SECOND and MAX_CONCURRENT_CALLS are the account's limits.
  // 0 = about eight seconds of the paced rate (CALLS_PER_SECOND, CALLS_MIN_GAP_MS), at least 64 and at most
  // 256, and no more than MAX_CONCURRENT_CALLS if that is over 64: 256 without either limit.
  @IntSetting(0, 10_000)
  SCHEDULER_DISPATCH_CONCURRENCY: number = 0;

  // How often Agenda looks for due jobs: retries, deferred calls, webhook deliveries, campaign ticks, upkeep.
  @IntSetting(100, 600_000)
  SCHEDULER_JOB_POLL_INTERVAL_MS: number = 5000;

  // How far ahead each sweep sets in-memory timers for due schedules;
  // never less than SCHEDULER_POLL_INTERVAL_MS.
  @IntSetting(0, 600_000)
  SCHEDULER_LOOKAHEAD_MS: number = 10_000;

  // New due schedules one sweep reads at most (beside those the instance already holds), and the page size
  // of the catch-up read of the whole due list; after a full read, the next comes once the backlog is down
  // to the dispatches in flight.
  @IntSetting(1, 100_000)
  SCHEDULER_SWEEP_BATCH: number = 1000;

  // Default Agenda job lock: a job still running after this may be taken over by another instance.
  @IntSetting(1000)
  SCHEDULER_LOCK_LIFETIME_MS: number = 10 * 60 * 1000;

  // On SIGTERM, how long HTTP requests and dispatches in flight, then Agenda jobs, each get to finish; the
  // process exits anyway after 3x this + 5 s.
  @IntSetting(0)
  SCHEDULER_SHUTDOWN_TIMEOUT_MS: number = 25_000;

  // A claim stuck this long in claimed or dialing (its instance died) is given up by the reconciler: missed
  // if nothing was sent, else unknown.
  @IntSetting(10)
  SCHEDULER_UNKNOWN_CLAIM_AFTER_SECONDS: number = 300;

  // Interval of a running campaign's Agenda job, which settles attempts and starts new ones; call outcomes
  // and due retries bring a pass sooner.
  @IntSetting(200, 600_000)
  CAMPAIGN_TICK_INTERVAL_MS: number = 15_000;

  // Most attempts one campaign pass starts when the campaign sets no batch_size of its own.
  @IntSetting(1, 10_000)
  CAMPAIGN_TICK_BATCH: number = 500;

  // Run the sweeper and Agenda jobs here; false = API-only instance (status webhooks are still handled).
  @Transform(toBool)
  @IsBoolean()
  SCHEDULER_ENABLED: boolean = true;

  // Built-in channels every domain event goes to: log (one log line), webhook (the tenant's subscriptions);
  // empty = neither. Events are stored for the SSE stream either way.
  @Matches(/^\s*(log|webhook)?(\s*,\s*(log|webhook))*\s*$/, { message: 'NOTIFICATION_CHANNELS must be a comma list of: log, webhook' })
  NOTIFICATION_CHANNELS: string = 'log,webhook';

  // Timeout of one outbound webhook attempt; on shutdown, attempts in flight get about this long to finish.
  @IntSetting(100, 120_000)
  NOTIFICATION_WEBHOOK_TIMEOUT_MS: number = 10_000;

  // Waits in ms before webhook retries 1..n (at most 20); after the last, the delivery is dead.
  // Empty = no retry.
  @Matches(/^\s*(\d{1,9}(\s*,\s*\d{1,9}){0,19})?\s*$/, { message: 'NOTIFICATION_RETRY_DELAYS_MS must be a comma list of at most 20 delays in ms' })
  NOTIFICATION_RETRY_DELAYS_MS: string = '30000,120000,600000,3600000,21600000';

  // Lets webhook URLs reach loopback, private, link-local or metadata addresses (no SSRF guard):
  // dev and tests only.
  @Transform(toBool)
  @IsBoolean()
  NOTIFICATION_ALLOW_PRIVATE_URLS: boolean = false;

  // Interval of the SSE stream's heartbeat comment line, which keeps idle connections open through proxies.
  @IntSetting(100, 600_000)
  NOTIFICATION_STREAM_HEARTBEAT_MS: number = 15_000;

  // How often an instance with open SSE streams reads events published by other instances.
  @IntSetting(50, 60_000)
  NOTIFICATION_STREAM_POLL_MS: number = 1000;

  // Events kept per tenant for SSE Last-Event-ID resume; the maintenance job prunes older ones.
  @IntSetting(1, 1_000_000)
  NOTIFICATION_HISTORY_MAX_PER_TENANT: number = 1000;

  // Events older than this are pruned from the history and can no longer be resumed from.
  @IntSetting(60, 90 * 24 * 3600)
  NOTIFICATION_HISTORY_MAX_AGE_SECONDS: number = 24 * 3600;

  // Finished webhook delivery records (delivered, dead, cancelled) older than this are pruned.
  @IntSetting(60, 365 * 24 * 3600)
  NOTIFICATION_DELIVERY_RETENTION_SECONDS: number = 7 * 24 * 3600;

  // How often the cluster-wide notification maintenance job runs (pruning, re-arming stranded deliveries,
  // running the durable consumers of events a crash stranded).
  @IntSetting(1000, 24 * 3600 * 1000)
  NOTIFICATION_PRUNE_INTERVAL_MS: number = 5 * 60 * 1000;

  // Largest JSON size of each free-form object: a schedule's metadata and provider_options, a campaign's
  // provider_options, a contact's variables.
  @IntSetting(256, 1024 * 1024)
  METADATA_MAX_BYTES: number = 16 * 1024;

  // Most verbose level logged, as pino JSON lines on stdout (log is pino's info, verbose its trace).
  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevelName = 'log';

  // Bearer token GET /metrics requires; unset leaves /metrics open.
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'METRICS_TOKEN must be at least 16 characters' })
  METRICS_TOKEN?: string;

  // Days audit entries are kept; the daily audit.cleanup job deletes older ones.
  @IntSetting(1, 3650)
  AUDIT_RETENTION_DAYS: number = 90;

  // Days a settled occurrence claim (and its dial decision) is kept; the hourly schedule.claims-cleanup job
  // deletes older ones. Claims are written on every dial, so the collection is kept to recent occurrences.
  @IntSetting(1, 3650)
  CLAIM_RETENTION_DAYS: number = 7;

  // Hours an Idempotency-Key (and a bulk create's stored answer) is kept; a request under a key older than
  // this is a new request (a bulk with the same body still finds the schedules the first one made, by
  // their derived ids). The hourly schedule.claims-cleanup job deletes older ones.
  @IntSetting(1, 8760)
  IDEMPOTENCY_KEY_RETENTION_HOURS: number = 24;

  // Days a schedule's history entry (GET /schedule/{id}'s events) is kept; the hourly
  // schedule.claims-cleanup job deletes older ones. At least 7: an entry recorded once per call outcome
  // also refuses a repeat of that outcome, which a provider sends within hours.
  @IntSetting(7, 3650)
  SCHEDULE_EVENT_RETENTION_DAYS: number = 90;

  // Days a status callback's receipt (its redelivery check) is kept; the call.reconcile job deletes older
  // ones, at most once an hour. Twilio redelivers within hours.
  @IntSetting(1, 3650)
  CALLBACK_RECEIPT_RETENTION_DAYS: number = 7;

  // API requests per minute per token (per client IP without a valid one), counted per instance.
  // 0 turns the limit off; webhooks, /health and /metrics are never limited.
  @IntSetting(0, 1_000_000)
  RATE_LIMIT_PER_MINUTE: number = 600;

  // Largest JSON request body in KiB (413 beyond). Imports, /schedule/bulk and form bodies (Twilio webhooks,
  // 64 KiB) have their own limits.
  @IntSetting(1, 10_240)
  REQUEST_BODY_LIMIT_KB: number = 256;

  // Comma list of browser origins allowed to call the API cross-origin; empty means no CORS headers at all.
  @Matches(/^\s*(https?:\/\/[^\s,]+(\s*,\s*https?:\/\/[^\s,]+)*)?\s*$/, { message: 'CORS_ORIGINS must be a comma list of http(s) origins' })
  CORS_ORIGINS: string = '';

  // Lifetime of the job-admin cookie POST /admin/session issues for /admin/jobs.
  @IntSetting(60, 24 * 3600)
  ADMIN_SESSION_TTL_SECONDS: number = 900;
}
