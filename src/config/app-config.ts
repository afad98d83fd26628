import type { CallProviderName, LogLevelName } from './environment.schema';

// The validated, typed configuration. Injected by class token; built once by loadConfig().
export abstract class AppConfig {
  abstract readonly nodeEnv: 'development' | 'production' | 'test';
  abstract readonly port: number;
  abstract readonly mongodbUri: string | undefined;
  abstract readonly mongodbSocketTimeoutMs: number;
  abstract readonly embeddedDb: { dir: string; engine: string; ferretdbPostgresqlUrl?: string };
  abstract readonly jwt: {
    secret: string;
    issuer?: string;
    audience?: string;
    publicKey?: string;
  };
  abstract readonly publicBaseUrl: string;
  abstract readonly callProvider: CallProviderName;
  abstract readonly twilio: {
    accountSid?: string;
    authToken?: string;
    fromNumber?: string;
    fromNumbers: string[];
    defaultTwimlUrl?: string;
    callTimeoutSeconds: number;
    timeLimitSeconds: number;
    requestTimeoutMs: number;
    apiBaseUrl?: string;
  };
  abstract readonly voiceAgentStreamUrl?: string;
  abstract readonly callReconcileAfterMinutes: number;
  abstract readonly callUnknownSettleAfterMinutes: number;
  abstract readonly apiQueryMaxTimeMs: number;
  abstract readonly callLogArchiveAfterHours: number;
  abstract readonly agentBackend: { defaultBaseUrl?: string; allowedBaseUrls: string[]; internalToken?: string; requestTimeoutMs: number };
  abstract readonly tasksApi: { token?: string; tenantId?: string };
  abstract readonly dialing: {
    callsPerSecond: number;
    minGapMs: number;
    rateHeadroomPercent: number;
    maxConcurrentCalls: number;
    providerMaxRetries: number;
    providerRetryBaseMs: number;
    unknownLookupDelayMs: number;
    safeModeAllowedNumbers: string[] | null;
  };
  abstract readonly simulator: { signingToken: string; stepMs: number };
  abstract readonly scheduler: {
    enabled: boolean;
    timezone: string;
    maxInstances: number;
    misfireGraceSeconds: number;
    pollIntervalMs: number;
    jobPollIntervalMs: number;
    concurrency: number;
    dispatchConcurrency: number;
    // How far ahead each sweep reads due schedules into in-memory timers (at least one poll interval).
    lookaheadMs: number;
    sweepBatch: number;
    lockLifetimeMs: number;
    shutdownTimeoutMs: number;
    unknownClaimAfterSeconds: number;
  };
  abstract readonly notifications: {
    channels: Array<'log' | 'webhook'>;
    webhookTimeoutMs: number;
    retryDelaysMs: number[];
    allowPrivateUrls: boolean;
    streamHeartbeatMs: number;
    streamPollMs: number;
    historyMaxPerTenant: number;
    historyMaxAgeSeconds: number;
    deliveryRetentionSeconds: number;
    pruneIntervalMs: number;
  };
  // Callee-local calling hours applied to every dial that has no window of its own.
  abstract readonly callingHoursDefault: { start: string; end: string };
  abstract readonly campaigns: { tickIntervalMs: number; tickBatch: number };
  abstract readonly metadataMaxBytes: number;
  abstract readonly statusCallbackConcurrency: number;
  abstract readonly logLevel: LogLevelName;
  abstract readonly operations: {
    metricsToken?: string;
    auditRetentionDays: number;
    claimRetentionDays: number;
    idempotencyKeyRetentionHours: number;
    scheduleEventRetentionDays: number;
    callbackReceiptRetentionDays: number;
    rateLimitPerMinute: number;
    requestBodyLimitKb: number;
    corsOrigins: string[];
    adminSessionTtlSeconds: number;
  };
}

export type AppConfigValues = { -readonly [K in keyof AppConfig]: AppConfig[K] };
