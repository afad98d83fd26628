import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { createHash } from 'node:crypto';
import { AppConfigValues } from './app-config';
import { STATUS_CALLBACK_PATH } from '../calls/webhook-paths';
import { EnvironmentVariables, MONGODB_URL_PATTERN } from './environment.schema';

export class ConfigValidationError extends Error {
  constructor(readonly problems: { variable: string; issue: string }[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.variable}: ${p.issue}`).join('\n') +
        '\nSee .env.example for every variable and its default.',
    );
    this.name = 'ConfigValidationError';
  }
}

function flatten(errors: ValidationError[]): { variable: string; issue: string }[] {
  return errors.map((e) => ({ variable: e.property, issue: Object.values(e.constraints ?? {}).join('; ') }));
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((v) => v.trim()).filter((v) => v.length > 0);
}

function callingHours(value: string): { start: string; end: string } {
  const [start, end] = value.split('-').map((v) => v.trim());
  return { start, end };
}

type Problem = { variable: string; issue: string };
// SCHEDULER_DISPATCH_CONCURRENCY left at 0. A burst dials faster with more dispatches in flight, because
// their writes share statements (decision 0036), but a dispatch waiting for a pacing slot or a call seat
// holds its claim (and a seat waiter asks for a seat every 250 ms). More of them than about eight seconds of
// the paced rate would wait long enough, with a few instances at one call a second, to be taken for stuck
// claims (SCHEDULER_UNKNOWN_CLAIM_AFTER_SECONDS) and fenced; more than the seats would mostly wait for seats.
// So a limited account keeps the former 64 unless its limits use more.
function dispatchConcurrencyFor(callsPerSecond: number, minGapMs: number, maxConcurrentCalls: number): number {
  const rate = Math.min(callsPerSecond > 0 ? callsPerSecond : Infinity, minGapMs > 0 ? 1000 / minGapMs : Infinity);
  const seats = maxConcurrentCalls > 0 ? maxConcurrentCalls : Infinity;
  return Math.min(256, Math.max(64, Math.min(Math.ceil(rate * 8), seats)));
}

const trimSlashes = (url: string) => url.replace(/\/+$/, '');

// MONGODB_URL (+ DATABASE_NAME): the URI with that database in its path, options kept.
function mongodbUriFromAlias(url: string, database: string | undefined): { uri: string } | Problem {
  const [, , path = '', options = ''] = MONGODB_URL_PATTERN.exec(url)!;
  const inUrl = decodeURIComponent(path.replace(/^\//, ''));
  if (database !== undefined && inUrl !== '' && inUrl !== database) {
    return { variable: 'DATABASE_NAME', issue: `DATABASE_NAME (${database}) differs from the database in MONGODB_URL's path (${inUrl}); give it in one place` };
  }
  const hosts = url.slice(0, url.length - path.length - options.length);
  return { uri: `${hosts}/${encodeURIComponent(database ?? inUrl)}${options}` };
}

// TWILIO_WEBHOOK_URL is the whole status callback URL; what the service needs is the base it sits under.
function baseUrlFromWebhookAlias(webhookUrl: string): { base: string } | Problem {
  const url = new URL(webhookUrl);
  const path = trimSlashes(url.pathname);
  if (!path.endsWith(STATUS_CALLBACK_PATH) || url.search !== '' || url.hash !== '') {
    return { variable: 'TWILIO_WEBHOOK_URL', issue: `TWILIO_WEBHOOK_URL must end with ${STATUS_CALLBACK_PATH} (the route that receives status callbacks), without a query; or set PUBLIC_BASE_URL instead` };
  }
  return { base: `${url.origin}${path.slice(0, -STATUS_CALLBACK_PATH.length)}` };
}

// Seed 004's variable names, accepted next to ours; an alias that disagrees with the variable it stands
// for is refused rather than silently overridden. URIs are not echoed: they may carry credentials.
function resolveAliases(parsed: EnvironmentVariables, invalid: Set<string>): { mongodbUri?: string; publicBaseUrl?: string; problems: Problem[] } {
  const problems: Problem[] = [];
  let mongodbUri = parsed.MONGODB_URI;
  if (parsed.MONGODB_URL !== undefined && !invalid.has('MONGODB_URL') && !invalid.has('DATABASE_NAME')) {
    const alias = mongodbUriFromAlias(parsed.MONGODB_URL, parsed.DATABASE_NAME);
    if (!('uri' in alias)) problems.push(alias);
    else if (mongodbUri !== undefined && mongodbUri !== alias.uri) {
      problems.push({ variable: 'MONGODB_URL', issue: 'MONGODB_URL (with DATABASE_NAME) and MONGODB_URI name different connections; set only one of them' });
    } else mongodbUri = alias.uri;
  } else if (parsed.DATABASE_NAME !== undefined && parsed.MONGODB_URL === undefined) {
    problems.push({ variable: 'DATABASE_NAME', issue: "DATABASE_NAME is read only with MONGODB_URL; with MONGODB_URI, put the database in the URI's path" });
  }
  let publicBaseUrl = parsed.PUBLIC_BASE_URL === undefined ? undefined : trimSlashes(parsed.PUBLIC_BASE_URL);
  if (parsed.TWILIO_WEBHOOK_URL !== undefined && !invalid.has('TWILIO_WEBHOOK_URL')) {
    const alias = baseUrlFromWebhookAlias(parsed.TWILIO_WEBHOOK_URL);
    if (!('base' in alias)) problems.push(alias);
    else if (publicBaseUrl !== undefined && publicBaseUrl !== alias.base) {
      problems.push({ variable: 'TWILIO_WEBHOOK_URL', issue: `TWILIO_WEBHOOK_URL implies PUBLIC_BASE_URL=${alias.base}, which conflicts with PUBLIC_BASE_URL=${publicBaseUrl}; set only one of them` });
    } else publicBaseUrl = alias.base;
  }
  return { mongodbUri, publicBaseUrl, problems };
}

export function loadConfig(env: Record<string, string | undefined>): AppConfigValues {
  const relevant: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined) relevant[key] = value;
  }
  const parsed = plainToInstance(EnvironmentVariables, relevant, { exposeDefaultValues: true });
  const errors = validateSync(parsed, { whitelist: false, forbidUnknownValues: false });
  const aliases = resolveAliases(parsed, new Set(errors.map((e) => e.property)));
  const problems = [...flatten(errors), ...aliases.problems];
  if (problems.length > 0) throw new ConfigValidationError(problems);

  const port = parsed.PORT;
  return {
    nodeEnv: parsed.NODE_ENV as AppConfigValues['nodeEnv'],
    port,
    mongodbUri: aliases.mongodbUri,
    mongodbSocketTimeoutMs: parsed.MONGODB_SOCKET_TIMEOUT_MS,
    embeddedDb: { dir: parsed.EMBEDDED_DB_DIR, engine: parsed.EMBEDDED_DB_ENGINE, ferretdbPostgresqlUrl: parsed.FERRETDB_POSTGRESQL_URL },
    jwt: {
      secret: parsed.JWT_SECRET,
      issuer: parsed.JWT_ISSUER,
      audience: parsed.JWT_AUDIENCE,
      publicKey: parsed.JWT_PUBLIC_KEY?.replace(/\\n/g, '\n'),
    },
    publicBaseUrl: aliases.publicBaseUrl ?? `http://localhost:${port}`,
    callProvider: parsed.CALL_PROVIDER,
    twilio: {
      accountSid: parsed.TWILIO_ACCOUNT_SID,
      authToken: parsed.TWILIO_AUTH_TOKEN,
      fromNumber: parsed.TWILIO_FROM_NUMBER,
      fromNumbers: [...new Set([parsed.TWILIO_FROM_NUMBER, ...list(parsed.TWILIO_FROM_NUMBERS)].filter((n): n is string => !!n))],
      defaultTwimlUrl: parsed.TWILIO_DEFAULT_TWIML_URL,
      callTimeoutSeconds: parsed.TWILIO_CALL_TIMEOUT_SECONDS,
      timeLimitSeconds: parsed.TWILIO_TIME_LIMIT_SECONDS,
      requestTimeoutMs: parsed.TWILIO_REQUEST_TIMEOUT_MS,
      apiBaseUrl: parsed.TWILIO_API_BASE_URL?.replace(/\/+$/, ''),
    },
    voiceAgentStreamUrl: parsed.VOICE_AGENT_STREAM_URL,
    callReconcileAfterMinutes: parsed.CALL_RECONCILE_AFTER_MINUTES,
    callUnknownSettleAfterMinutes: parsed.CALL_UNKNOWN_SETTLE_AFTER_MINUTES,
    apiQueryMaxTimeMs: parsed.API_QUERY_MAX_TIME_MS,
    callLogArchiveAfterHours: parsed.CALL_LOG_ARCHIVE_AFTER_HOURS,
    agentBackend: {
      defaultBaseUrl: parsed.DEFAULT_BACKEND_BASE_URL?.replace(/\/+$/, ''),
      allowedBaseUrls: [...new Set([parsed.DEFAULT_BACKEND_BASE_URL, ...list(parsed.BACKEND_BASE_URL_ALLOWLIST)].filter((u): u is string => !!u).map((u) => u.replace(/\/+$/, '')))],
      internalToken: parsed.BACKEND_INTERNAL_TOKEN,
      requestTimeoutMs: parsed.BACKEND_REQUEST_TIMEOUT_MS,
    },
    tasksApi: { token: parsed.TASKS_API_TOKEN, tenantId: parsed.TASKS_API_TENANT_ID },
    dialing: {
      callsPerSecond: parsed.CALLS_PER_SECOND,
      minGapMs: parsed.CALLS_MIN_GAP_MS,
      rateHeadroomPercent: parsed.CALLS_RATE_HEADROOM_PERCENT,
      maxConcurrentCalls: parsed.MAX_CONCURRENT_CALLS,
      providerMaxRetries: parsed.PROVIDER_MAX_RETRIES,
      providerRetryBaseMs: parsed.PROVIDER_RETRY_BASE_MS,
      unknownLookupDelayMs: parsed.UNKNOWN_LOOKUP_DELAY_MS,
      safeModeAllowedNumbers: parsed.SAFE_MODE_ALLOWED_NUMBERS ? list(parsed.SAFE_MODE_ALLOWED_NUMBERS) : null,
    },
    simulator: {
      // Accepted on status webhooks beside Twilio's token; without a configured one it is derived from
      // the JWT secret, so that no guessable key is accepted.
      signingToken:
        parsed.SIMULATOR_SIGNING_TOKEN ??
        parsed.TWILIO_AUTH_TOKEN ??
        createHash('sha256').update(`simulator:${parsed.JWT_SECRET}`).digest('hex'),
      stepMs: parsed.SIMULATOR_STEP_MS,
    },
    scheduler: {
      enabled: parsed.SCHEDULER_ENABLED,
      timezone: parsed.SCHEDULER_TIMEZONE,
      maxInstances: parsed.SCHEDULER_MAX_INSTANCES,
      misfireGraceSeconds: parsed.SCHEDULER_MISFIRE_GRACE_TIME,
      pollIntervalMs: parsed.SCHEDULER_POLL_INTERVAL_MS,
      jobPollIntervalMs: parsed.SCHEDULER_JOB_POLL_INTERVAL_MS,
      concurrency: parsed.SCHEDULER_CONCURRENCY,
      dispatchConcurrency: parsed.SCHEDULER_DISPATCH_CONCURRENCY || dispatchConcurrencyFor(parsed.CALLS_PER_SECOND, parsed.CALLS_MIN_GAP_MS, parsed.MAX_CONCURRENT_CALLS),
      lookaheadMs: Math.max(parsed.SCHEDULER_LOOKAHEAD_MS, parsed.SCHEDULER_POLL_INTERVAL_MS),
      sweepBatch: parsed.SCHEDULER_SWEEP_BATCH,
      lockLifetimeMs: parsed.SCHEDULER_LOCK_LIFETIME_MS,
      shutdownTimeoutMs: parsed.SCHEDULER_SHUTDOWN_TIMEOUT_MS,
      unknownClaimAfterSeconds: parsed.SCHEDULER_UNKNOWN_CLAIM_AFTER_SECONDS,
    },
    notifications: {
      channels: [...new Set(list(parsed.NOTIFICATION_CHANNELS))] as Array<'log' | 'webhook'>,
      webhookTimeoutMs: parsed.NOTIFICATION_WEBHOOK_TIMEOUT_MS,
      retryDelaysMs: list(parsed.NOTIFICATION_RETRY_DELAYS_MS).map(Number),
      allowPrivateUrls: parsed.NOTIFICATION_ALLOW_PRIVATE_URLS,
      streamHeartbeatMs: parsed.NOTIFICATION_STREAM_HEARTBEAT_MS,
      streamPollMs: parsed.NOTIFICATION_STREAM_POLL_MS,
      historyMaxPerTenant: parsed.NOTIFICATION_HISTORY_MAX_PER_TENANT,
      historyMaxAgeSeconds: parsed.NOTIFICATION_HISTORY_MAX_AGE_SECONDS,
      deliveryRetentionSeconds: parsed.NOTIFICATION_DELIVERY_RETENTION_SECONDS,
      pruneIntervalMs: parsed.NOTIFICATION_PRUNE_INTERVAL_MS,
    },
    callingHoursDefault: callingHours(parsed.CALLING_HOURS_DEFAULT),
    campaigns: { tickIntervalMs: parsed.CAMPAIGN_TICK_INTERVAL_MS, tickBatch: parsed.CAMPAIGN_TICK_BATCH },
    metadataMaxBytes: parsed.METADATA_MAX_BYTES,
    statusCallbackConcurrency: parsed.STATUS_CALLBACK_CONCURRENCY,
    logLevel: parsed.LOG_LEVEL,
    operations: {
      metricsToken: parsed.METRICS_TOKEN,
      auditRetentionDays: parsed.AUDIT_RETENTION_DAYS,
      claimRetentionDays: parsed.CLAIM_RETENTION_DAYS,
      idempotencyKeyRetentionHours: parsed.IDEMPOTENCY_KEY_RETENTION_HOURS,
      scheduleEventRetentionDays: parsed.SCHEDULE_EVENT_RETENTION_DAYS,
      callbackReceiptRetentionDays: parsed.CALLBACK_RECEIPT_RETENTION_DAYS,
      rateLimitPerMinute: parsed.RATE_LIMIT_PER_MINUTE,
      requestBodyLimitKb: parsed.REQUEST_BODY_LIMIT_KB,
      corsOrigins: list(parsed.CORS_ORIGINS).map((o) => o.replace(/\/+$/, '')),
      adminSessionTtlSeconds: parsed.ADMIN_SESSION_TTL_SECONDS,
    },
  };
}
