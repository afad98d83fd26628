import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { MongoClient } from 'mongodb';
import { Balancer } from './balancer';
import { CallbackPlan, ReliabilityTwilio } from './fake-provider';
import { freePort } from '../../utils/free-port';
import { ServiceProcess } from './processes';
import { pool, Rng } from './util';

export type Mode = 'quick' | 'full';

export interface RunContext {
  mode: Mode;
  seed: number;
  // --races-count: the races scenario's burst size, when not the mode's.
  racesCount?: number | null;
  repoRoot: string;
  distDir: string;
  // Per-run scratch: logs of every process, database data.
  workDir: string;
  // Base URI (no database name) of the shared database server; each scenario uses its own database.
  dbUri: string;
  // Set when this run started the database server itself (a FerretDB binary it can start and stop).
  ferretBinary: string | null;
  // FerretDB runs on PostgreSQL: each FerretDB this run starts gets a fresh database on this server. Null: SQLite.
  postgresqlServer: string | null;
  jwtSecret: string;
  log: (line: string) => void;
}

export interface ScenarioResult {
  scenario: string;
  occurrences: number;
  faults: number;
  lost: number;
  duplicated: number;
  unknownReconciled: number;
  passed: boolean;
  skipped?: boolean;
  failures: string[];
  notes: string[];
  details: Record<string, unknown>;
  seconds?: number;
}

export interface Scenario {
  id: number;
  name: string;
  run(ctx: RunContext): Promise<ScenarioResult>;
}

export function result(scenario: string): ScenarioResult {
  return { scenario, occurrences: 0, faults: 0, lost: 0, duplicated: 0, unknownReconciled: 0, passed: true, failures: [], notes: [], details: {} };
}

export function fail(r: ScenarioResult, message: string): void {
  r.passed = false;
  r.failures.push(message);
}

export function withDb(baseUri: string, name: string): string {
  const url = new URL(baseUri);
  url.pathname = `/${name}`;
  return url.toString();
}

export const TWILIO_SID = `AC${'0123456789abcdef'.repeat(2)}`;
export const TWILIO_TOKEN = 'reliability-twilio-auth-token-0123';
export const FROM_NUMBER = '+14155550100';

export function tokenFor(ctx: RunContext, sub: string, extra: Record<string, unknown> = {}): string {
  return jwt.sign({ sub, ...extra }, ctx.jwtSecret, { algorithm: 'HS256', expiresIn: '2h' });
}

// Settings every scenario shares: production mode, the fake Twilio over HTTP, no pacing (the pacer is
// not what these scenarios are about), calling hours and the rate limit open, reconcilers quick.
export function baseEnv(ctx: RunContext, dbUri: string, twilioUrl: string, publicBaseUrl: string): Record<string, string> {
  return {
    MONGODB_URI: dbUri,
    JWT_SECRET: ctx.jwtSecret,
    PUBLIC_BASE_URL: publicBaseUrl,
    CALL_PROVIDER: 'twilio',
    TWILIO_ACCOUNT_SID: TWILIO_SID,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    TWILIO_FROM_NUMBER: FROM_NUMBER,
    TWILIO_API_BASE_URL: twilioUrl,
    TWILIO_REQUEST_TIMEOUT_MS: '20000',
    CALLS_PER_SECOND: '0',
    PROVIDER_RETRY_BASE_MS: '50',
    UNKNOWN_LOOKUP_DELAY_MS: '300',
    SCHEDULER_UNKNOWN_CLAIM_AFTER_SECONDS: '15',
    // A call whose callbacks went to a killed instance is fetched from the provider after this long.
    CALL_RECONCILE_AFTER_MINUTES: '2',
    // An instance killed while it holds the (30 s) reconcile job's lock keeps it for this long.
    SCHEDULER_LOCK_LIFETIME_MS: '60000',
    CALLING_HOURS_DEFAULT: '00:00-24:00',
    RATE_LIMIT_PER_MINUTE: '0',
    NOTIFICATION_CHANNELS: 'webhook',
    LOG_LEVEL: 'log',
  };
}

export interface ClusterOptions {
  name: string;
  instances: number;
  env?: Record<string, string>;
  perInstanceEnv?: (i: number) => Record<string, string>;
  callbacks?: CallbackPlan;
  dbUri?: string;
  rng: Rng;
}

export class Cluster {
  readonly services: ServiceProcess[] = [];
  readonly mongo: MongoClient;

  constructor(
    readonly ctx: RunContext,
    readonly dbUri: string,
    readonly twilio: ReliabilityTwilio,
    readonly balancer: Balancer,
  ) {
    this.mongo = new MongoClient(dbUri, { serverSelectionTimeoutMS: 5000 });
  }

  static async start(ctx: RunContext, options: ClusterOptions): Promise<Cluster> {
    const dbUri = options.dbUri ?? withDb(ctx.dbUri, `rel_${options.name.replace(/[^a-z0-9]/gi, '_')}_${randomBytes(3).toString('hex')}`);
    const twilio = new ReliabilityTwilio(TWILIO_SID, TWILIO_TOKEN, options.rng.fork(7), options.callbacks);
    await twilio.start();
    let cluster: Cluster | null = null;
    const balancer = new Balancer(() => (cluster ? cluster.services.filter((s) => s.running).map((s) => s.url) : []));
    await balancer.start();
    cluster = new Cluster(ctx, dbUri, twilio, balancer);
    for (let i = 0; i < options.instances; i++) {
      const port = await freePort();
      const name = `${options.name}-${String.fromCharCode(97 + i)}`;
      const env = { ...baseEnv(ctx, dbUri, twilio.url, balancer.url), ...options.env, ...options.perInstanceEnv?.(i) };
      cluster.services.push(new ServiceProcess(name, ctx.distDir, join(ctx.repoRoot, 'node_modules'), port, env, join(ctx.workDir, `${name}.log`), join(ctx.workDir, 'cwd', name)));
    }
    // One at a time: the first start creates indexes and Agenda's collections.
    for (const s of cluster.services) await s.start();
    await cluster.mongo.connect();
    return cluster;
  }

  get api(): ServiceProcess {
    return this.services.find((s) => s.running) ?? this.services[0];
  }

  // Instances that exited on their own during the scenario.
  crashes(): string[] {
    return this.services.flatMap((s) => s.crashes.map((c) => `${s.name} exited at ${c.at} (code ${c.code}, signal ${c.signal}); see ${s.logFile}`));
  }

  async stop(): Promise<void> {
    const crashes = this.crashes();
    if (crashes.length > 0) this.ctx.log(`  instances crashed: ${crashes.join('; ')}`);
    await Promise.all(this.services.map((s) => s.stop()));
    for (const s of this.services) s.close();
    await this.twilio.stop();
    await this.balancer.stop();
    await this.mongo.close().catch(() => undefined);
  }
}

export interface HttpAnswer {
  status: number;
  text: string;
  json: any;
  headers: Headers;
}

export async function call(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | Buffer | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 60_000) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, text, json, headers: res.headers };
}

export interface OccurrenceSpec {
  phone: string;
  scheduledTime: Date;
  misfirePolicy?: 'skip' | 'run_once';
}

export interface CreatedOccurrence extends OccurrenceSpec {
  id: string;
}

// Creates one-time schedules through the API, several requests at a time, spread over the live instances.
export async function createOccurrences(cluster: Cluster, token: string, specs: OccurrenceSpec[], concurrency = 6): Promise<CreatedOccurrence[]> {
  return pool(specs, concurrency, async (spec, i) => {
    let scheduledTime = spec.scheduledTime;
    for (let attempt = 0; ; attempt++) {
      const live = cluster.services.filter((s) => s.running);
      const target = live[i % Math.max(1, live.length)] ?? cluster.services[0];
      // Creation slower than foreseen (a loaded machine): an occurrence whose due time has passed joins
      // the burst a few seconds from now instead (its own key, since the body changed).
      if (scheduledTime.getTime() < Date.now() + 1500) scheduledTime = new Date(Date.now() + 3000);
      try {
        const res = await call(target.url, 'POST', '/schedule/', {
          token,
          json: { phone: spec.phone, scheduled_time: scheduledTime.toISOString(), description: 'reliability', misfire_policy: spec.misfirePolicy ?? 'skip' },
          headers: { 'idempotency-key': `rel-${spec.phone.slice(1)}-${scheduledTime.getTime()}` },
        });
        if (res.status === 200) return { ...spec, scheduledTime, id: res.json.schedule_id as string };
        if (attempt >= 5) throw new Error(`create failed: ${res.status} ${res.text.slice(0, 300)}`);
      } catch (error) {
        // The instance may be down (a kill); the Idempotency-Key makes the retry safe.
        if (attempt >= 5) throw error;
      }
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
  });
}
