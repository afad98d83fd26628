import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, WriteStream } from 'node:fs';
import { delimiter, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { dropPostgresDatabase, FerretDbHandler, ferretDbArgs, ferretDbEnv, ferretDbHandler, freshPostgresqlDatabase, prepareFerretDbDatabase, redactedPostgresUrl } from '../../../src/database/embedded/ferretdb-server';
import { freePort } from '../../utils/free-port';
import { sleep } from './util';

// Every child this run started, so that a crash or Ctrl-C of the runner leaves nothing behind.
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const c of children) c.kill('SIGKILL');
      process.exit(130);
    });
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: string | null; timedOut: boolean }> {
  if (exited(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode, timedOut: false });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ code: null, signal: null, timedOut: true }), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut: false });
    });
  });
}

// One instance of the built service (dist/main.js), NODE_ENV=production, on a fixed port so that a
// restart after SIGKILL comes back at the same address.
export class ServiceProcess {
  private child: ChildProcess | null = null;
  private log: WriteStream;
  readonly url: string;
  starts = 0;
  // Exits nobody asked for (not kill/terminate/stop): a crash of the service itself.
  readonly crashes: Array<{ at: string; code: number | null; signal: string | null }> = [];
  private expectingExit = false;
  supervise = true;
  mappedRoutes: Array<{ method: string; path: string }> = [];

  constructor(
    readonly name: string,
    private readonly distDir: string,
    private readonly nodeModules: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    readonly logFile: string,
    private readonly workDir: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    mkdirSync(workDir, { recursive: true });
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && !exited(this.child);
  }

  async start(readyTimeoutMs = 120_000): Promise<void> {
    this.starts++;
    this.expectingExit = false;
    this.log.write(`\n===== ${new Date().toISOString()} start #${this.starts} of ${this.name} on ${this.port} =====\n`);
    // A build outside the repository finds the repository's packages through NODE_PATH. cwd is a scratch directory: main.js reads .env from its working directory, and the repository's
    // .env must not leak into the run.
    const child = spawn(process.execPath, [join(this.distDir, 'main.js')], {
      cwd: this.workDir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_PATH: this.nodeModules, ...this.env, NODE_ENV: 'production', PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    track(child);
    let buffered = '';
    const onData = (chunk: Buffer) => {
      this.log.write(chunk);
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /Mapped \{([^,}]+),\s*([A-Z]+)\}/.exec(line);
        if (m && !this.mappedRoutes.some((r) => r.method === m[2] && r.path === m[1])) this.mappedRoutes.push({ method: m[2], path: m[1] });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => this.log.write(c));
    child.once('exit', (code, signal) => {
      this.log.write(`\n===== ${new Date().toISOString()} ${this.name} exited code=${code} signal=${signal} =====\n`);
      if (this.expectingExit) return;
      this.crashes.push({ at: new Date().toISOString(), code, signal });
      // Like a container's restart policy: the crash is recorded (and fails the scenario), and the
      // instance comes back so that the scenario can still judge what was lost or dialed twice.
      if (this.supervise) {
        setTimeout(() => {
          if (!this.running && !this.expectingExit) this.start().catch((error: unknown) => this.log.write(`\n===== restart failed: ${String(error)} =====\n`));
        }, 1000);
      }
    });
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if (exited(child)) throw new Error(`${this.name} exited during start (code ${child.exitCode}); see ${this.logFile}`);
      try {
        // An API-only instance (SCHEDULER_ENABLED=false) runs no job scheduler: liveness is what it can offer.
        const probe = this.env.SCHEDULER_ENABLED === 'false' ? '/health' : '/health/ready';
        const res = await fetch(`${this.url}${probe}`, { signal: AbortSignal.timeout(3000) });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    throw new Error(`${this.name} not ready within ${readyTimeoutMs} ms; see ${this.logFile}`);
  }

  // SIGKILL: no drain, no cleanup; whatever was in flight stays as it was in the database.
  async kill(): Promise<void> {
    if (!this.child || exited(this.child)) return;
    this.expectingExit = true;
    this.child.kill('SIGKILL');
    await waitExit(this.child, 10_000);
  }

  async terminate(timeoutMs: number): Promise<{ code: number | null; signal: string | null; timedOut: boolean; tookMs: number }> {
    const started = Date.now();
    if (!this.child || exited(this.child)) return { code: this.child?.exitCode ?? null, signal: null, timedOut: false, tookMs: 0 };
    this.expectingExit = true;
    this.child.kill('SIGTERM');
    const result = await waitExit(this.child, timeoutMs);
    if (result.timedOut) await this.kill();
    return { ...result, tookMs: Date.now() - started };
  }

  async stop(): Promise<void> {
    this.expectingExit = true;
    if (!this.child || exited(this.child)) return;
    const r = await this.terminate(30_000);
    if (r.timedOut) await this.kill();
  }

  close(): void {
    this.log.end();
  }
}

export function findFerretDb(repoRoot: string): string | null {
  if (process.env.FERRETDB_BIN && existsSync(process.env.FERRETDB_BIN)) return process.env.FERRETDB_BIN;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'ferretdb'))) return join(dir, 'ferretdb');
  }
  const local = join(repoRoot, '.tools', 'ferretdb');
  return existsSync(local) ? local : null;
}

export async function pingDatabase(uri: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return true;
    } catch {
      await sleep(200);
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  return false;
}

// "ferretdb v1.24.2" or "mongodb 7.0.14": what answers at uri.
export async function serverVersion(uri: string): Promise<string> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    const info = await client.db('admin').command({ buildInfo: 1 });
    return info.ferretdbVersion ? `ferretdb ${info.ferretdbVersion}` : `mongodb ${info.version}`;
  } finally {
    await client.close().catch(() => undefined);
  }
}

// A FerretDB server this run controls, on a port of our choosing so that it can be stopped and started again
// at the same address with the same data (SQLite files in dataDir, or the PostgreSQL database postgresqlUrl).
export class FerretDbProcess {
  private child: ChildProcess | null = null;
  readonly uri: string;

  constructor(
    private readonly binary: string,
    readonly port: number,
    private readonly dataDir: string,
    private readonly logFile: string,
    readonly postgresqlUrl?: string,
  ) {
    this.uri = `mongodb://127.0.0.1:${port}/`;
    mkdirSync(dataDir, { recursive: true });
  }

  get handler(): FerretDbHandler {
    return ferretDbHandler(this.postgresqlUrl);
  }

  async start(): Promise<void> {
    if (this.postgresqlUrl) for (const note of await prepareFerretDbDatabase(this.postgresqlUrl)) process.stderr.write(`${note}\n`);
    const out = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(this.binary, ferretDbArgs({ port: this.port, stateDir: this.dataDir, postgresqlUrl: this.postgresqlUrl }), { stdio: ['ignore', 'pipe', 'pipe'], env: ferretDbEnv(process.env) });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    this.child = child;
    track(child);
    if (!(await pingDatabase(this.uri, 60_000))) throw new Error(`FerretDB did not answer on ${this.uri}; see ${this.logFile}`);
  }

  // Stops the server for good: its PostgreSQL database goes too (SQLite files go with the run's work
  // directory), unless kept for a look at a failed run.
  async destroy(keepData = false): Promise<void> {
    await this.stop();
    if (this.postgresqlUrl && !keepData) await dropPostgresDatabase(this.postgresqlUrl);
  }

  async kill(): Promise<void> {
    if (!this.child || exited(this.child)) return;
    this.child.kill('SIGKILL');
    await waitExit(this.child, 10_000);
  }

  async stop(): Promise<void> {
    if (!this.child || exited(this.child)) return;
    this.child.kill('SIGTERM');
    const r = await waitExit(this.child, 10_000);
    if (r.timedOut) await this.kill();
  }
}

// A FerretDB of the run's handler at a free port: on a fresh database of `postgresqlServer` when set, else on
// SQLite files under workDir.
export async function newFerretDb(binary: string, workDir: string, name: string, postgresqlServer: string | null): Promise<FerretDbProcess> {
  const postgresqlUrl = postgresqlServer ? await freshPostgresqlDatabase(postgresqlServer, `call_scheduler_reliability_${name}`) : undefined;
  if (postgresqlServer && !postgresqlUrl) throw new Error(`PostgreSQL at ${redactedPostgresUrl(postgresqlServer)} no longer answers`);
  return new FerretDbProcess(binary, await freePort(), join(workDir, `db-${name}`), join(workDir, `ferretdb-${name}.log`), postgresqlUrl);
}
