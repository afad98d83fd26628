import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { FerretDbHandler, ferretDbArgs, ferretDbEnv, ferretDbHandler, prepareFerretDbDatabase, redactedPostgresUrl } from './ferretdb-server';
import {
  DOWNLOAD_PROBE_TIMEOUT_MS,
  DOWNLOAD_RETRY_AFTER_MS,
  EMBEDDED_MONGODB_VERSION,
  mongoBinaryFromMemoryServer,
} from './mongodb-download';

const execFileAsync = promisify(execFile);

export type EmbeddedEngine = 'mongod' | 'mongodb-memory-server' | 'ferretdb';

export interface EmbeddedDatabase {
  uri: string;
  engine: EmbeddedEngine;
  version: string;
  // FerretDB's storage: SQLite files under dataDir, or a PostgreSQL database.
  handler: FerretDbHandler | null;
  dataDir: string;
  reused: boolean;
  // Why each engine tried before this one did not run, in the order tried.
  skipped: string[];
  stop(): Promise<void>;
}

export interface LaunchOptions {
  dataDir: string;
  // persistent: data survives restarts and a running server is shared by later instances.
  persistent: boolean;
  engine: 'auto' | EmbeddedEngine;
  toolsDir: string;
  projectRoot: string;
  allowInstall: boolean;
  log: (message: string) => void;
  // FerretDB stores its data in this PostgreSQL database (created if missing) instead of SQLite.
  ferretdbPostgresqlUrl?: string;
  // Where mongod and ferretdb are looked up; the process's PATH by default.
  searchPath?: string;
  mongodbDownload?: { version?: string; probeTimeoutMs?: number; retryAfterMs?: number; mirror?: string; failureFile?: string };
  now?: () => number;
}

export class NoEmbeddedEngineError extends Error {
  constructor(attempts: string[], toolsDir: string) {
    super(
      'No MongoDB-compatible server could be started:\n' +
        attempts.map((a) => `  - ${a}`).join('\n') +
        '\nAny one of these fixes it:\n' +
        '  - use a MongoDB you run: `docker compose up -d mongo`, then MONGODB_URI=mongodb://localhost:27017/call_scheduler npm start\n' +
        '  - install Go (https://go.dev/dl), then `npm run db:install` installs FerretDB into .tools/\n' +
        `  - go online once so that MongoDB ${EMBEDDED_MONGODB_VERSION} downloads (delete ${join(toolsDir, 'mongodb-download.json')} to retry at once)\n` +
        '  - put a mongod binary on PATH',
    );
    this.name = 'NoEmbeddedEngineError';
  }
}

interface StateFile {
  pid: number;
  port: number;
  engine: EmbeddedEngine;
  version: string;
  handler: FerretDbHandler | null;
}

function which(binary: string, searchPath: string | undefined): string | null {
  for (const dir of (searchPath ?? process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolveAnswer(ok);
    };
    socket.setTimeout(1000);
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForPing(uri: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 150));
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  throw new Error(`server did not answer ping within ${timeoutMs} ms: ${String(lastError)}`);
}

// The server dies with whoever started it, even on SIGKILL: a watchdog shell polls the parent pid.
function spawnGuarded(binary: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const quoted = [binary, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `${quoted} & child=$!; trap 'kill $child 2>/dev/null; wait $child; exit 0' TERM INT; ` +
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; kill $child 2>/dev/null; wait $child`;
  const out = openSync(logFile, 'a');
  const child = spawn('bash', ['-c', script], { stdio: ['ignore', out, out], detached: false, env });
  child.unref();
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolveStop) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolveStop();
    }, 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

async function versionOf(binary: string, pattern: RegExp): Promise<string> {
  try {
    const { stdout } = await execFileAsync(binary, ['--version'], { timeout: 10_000 });
    return pattern.exec(stdout)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function findFerretDb(options: LaunchOptions): Promise<string | null> {
  const local = join(options.toolsDir, 'ferretdb');
  const found = which('ferretdb', options.searchPath) ?? (existsSync(local) ? local : null);
  if (found || !options.allowInstall) return found;
  if (!which('go', options.searchPath)) return null;
  options.log(`FerretDB not found; installing v1.24.2 into ${options.toolsDir} (first run only)`);
  const started = Date.now();
  await execFileAsync('bash', [join(options.projectRoot, 'scripts/install-ferretdb.sh'), options.toolsDir], {
    timeout: 10 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  options.log(`FerretDB installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return existsSync(local) ? local : null;
}

async function startProcess(
  binary: string,
  argsFor: (port: number) => string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; port: number; uri: string }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawnGuarded(binary, argsFor(port), logFile, env);
    const uri = `mongodb://127.0.0.1:${port}/`;
    try {
      await waitForPing(uri, child, 30_000);
      return { child, port, uri };
    } catch (error) {
      lastError = error;
      await stopChild(child);
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

function acquireStartLock(dataDir: string): () => void {
  const lock = join(dataDir, 'embedded.lock');
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      return () => rmSync(lock, { recursive: true, force: true });
    } catch {
      const age = existsSync(lock) ? Date.now() - statSync(lock).mtimeMs : 0;
      if (age > 90_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

async function reuseRunning(stateFile: string): Promise<StateFile | null> {
  if (!existsSync(stateFile)) return null;
  try {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as StateFile;
    if (alive(state.pid) && (await portAnswers(state.port))) return state;
  } catch {
    return null;
  }
  return null;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message.split('\n').slice(0, 3).join(' ') : String(error);
}

// Without MONGODB_URI the service runs on the best engine this machine has, in this order: a mongod on
// PATH; a real MongoDB from mongodb-memory-server (cached, or downloaded once); FerretDB (on PostgreSQL
// when given one, else SQLite). Each one passed over leaves its reason in `skipped`.
export async function launchEmbeddedDatabase(options: LaunchOptions): Promise<EmbeddedDatabase> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const stateFile = join(dataDir, 'embedded.json');
  const release = options.persistent ? acquireStartLock(dataDir) : () => undefined;
  try {
    if (options.persistent) {
      const running = await reuseRunning(stateFile);
      if (running) {
        return {
          uri: `mongodb://127.0.0.1:${running.port}/`,
          engine: running.engine,
          version: running.version,
          handler: running.handler ?? null,
          dataDir,
          reused: true,
          skipped: [],
          stop: async () => undefined,
        };
      }
    }
    const skipped: string[] = [];
    const want = (engine: EmbeddedEngine) => options.engine === 'auto' || options.engine === engine;
    const download = options.mongodbDownload ?? {};
    const mongodbVersion = download.version ?? EMBEDDED_MONGODB_VERSION;

    const candidates: Array<[EmbeddedEngine, () => Promise<Omit<EmbeddedDatabase, 'skipped' | 'reused'> | null>]> = [
      ['mongod', async () => {
        if (!want('mongod')) return null;
        const mongod = which('mongod', options.searchPath);
        if (!mongod) {
          skipped.push('mongod: not on PATH');
          return null;
        }
        const dir = join(dataDir, 'mongod');
        mkdirSync(dir, { recursive: true });
        const { child, uri } = await startProcess(mongod, (port) => ['--dbpath', dir, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet'], join(dir, 'mongod.log'));
        const version = await versionOf(mongod, /db version v(\S+)/);
        return { uri, engine: 'mongod', version, handler: null, dataDir: dir, stop: () => stopChild(child) };
      }],
      ['mongodb-memory-server', async () => {
        if (!want('mongodb-memory-server')) return null;
        const found = await mongoBinaryFromMemoryServer({
          version: mongodbVersion,
          failureFile: download.failureFile ?? join(options.toolsDir, 'mongodb-download.json'),
          probeTimeoutMs: download.probeTimeoutMs ?? DOWNLOAD_PROBE_TIMEOUT_MS,
          retryAfterMs: download.retryAfterMs ?? DOWNLOAD_RETRY_AFTER_MS,
          mirror: download.mirror,
          now: options.now ?? Date.now,
          log: options.log,
        });
        if ('skipped' in found) {
          skipped.push(`mongodb-memory-server: ${found.skipped}`);
          return null;
        }
        const { MongoMemoryServer } = await import('mongodb-memory-server-core');
        const dir = join(dataDir, 'mongodb-memory-server');
        mkdirSync(dir, { recursive: true });
        const server = await MongoMemoryServer.create({
          binary: { version: mongodbVersion },
          instance: { dbPath: dir, storageEngine: 'wiredTiger', ip: '127.0.0.1' },
        });
        return {
          uri: server.getUri().replace(/\/?$/, '/'),
          engine: 'mongodb-memory-server',
          version: mongodbVersion,
          handler: null,
          dataDir: dir,
          stop: async () => {
            await server.stop({ doCleanup: false });
          },
        };
      }],
      ['ferretdb', async () => {
        if (!want('ferretdb')) return null;
        let binary: string | null;
        try {
          binary = await findFerretDb(options);
        } catch (error) {
          skipped.push(`ferretdb: install failed: ${reason(error)}`);
          return null;
        }
        if (!binary) {
          skipped.push(`ferretdb: not on PATH nor in ${options.toolsDir}, and no Go toolchain to install it`);
          return null;
        }
        const postgresqlUrl = options.ferretdbPostgresqlUrl;
        if (postgresqlUrl) for (const note of await prepareFerretDbDatabase(postgresqlUrl)) options.log(note);
        const dir = join(dataDir, 'ferretdb');
        mkdirSync(dir, { recursive: true });
        const { child, uri } = await startProcess(binary, (port) => ferretDbArgs({ port, stateDir: dir, postgresqlUrl }), join(dir, 'ferretdb.log'), ferretDbEnv(process.env));
        const version = await versionOf(binary, /version:\s*(\S+)/);
        const handler = ferretDbHandler(postgresqlUrl);
        if (postgresqlUrl) options.log(`FerretDB stores its data in PostgreSQL at ${redactedPostgresUrl(postgresqlUrl)}`);
        return { uri, engine: 'ferretdb', version, handler, dataDir: dir, stop: () => stopChild(child) };
      }],
    ];

    for (const [engine, candidate] of candidates) {
      let started: Omit<EmbeddedDatabase, 'skipped' | 'reused'> | null;
      try {
        started = await candidate();
      } catch (error) {
        skipped.push(`${engine}: ${reason(error)}`);
        started = null;
      }
      if (!started) continue;
      let db: EmbeddedDatabase = { ...started, reused: false, skipped: [...skipped] };
      if (options.persistent) {
        const port = Number(new URL(db.uri).port);
        const state: StateFile = { pid: process.pid, port, engine: db.engine, version: db.version, handler: db.handler };
        writeFileSync(stateFile, JSON.stringify(state));
        const stop = db.stop;
        db = { ...db, stop: async () => { rmSync(stateFile, { force: true }); await stop(); } };
      } else {
        const stop = db.stop;
        db = { ...db, stop: async () => { await stop(); rmSync(dataDir, { recursive: true, force: true }); } };
      }
      return db;
    }
    throw new NoEmbeddedEngineError(skipped, options.toolsDir);
  } finally {
    release();
  }
}

// One line for the log: which engine runs, and why the ones before it did not.
export function describeEmbeddedDatabase(db: EmbeddedDatabase): string {
  const name = db.engine === 'ferretdb' ? `ferretdb ${db.version} (${db.handler} handler)` : `${db.engine} ${db.version}`;
  const why = db.skipped.length > 0 ? `; passed over: ${db.skipped.join('; ')}` : '';
  return `${db.reused ? 'Reusing' : 'Started'} embedded ${name} at ${db.uri}${why}`;
}

export function withDatabaseName(uri: string, dbName: string): string {
  const url = new URL(uri);
  url.pathname = `/${dbName}`;
  return url.toString();
}
