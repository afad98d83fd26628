import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { createServer, Socket } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';

const execFileAsync = promisify(execFile);

export type EmbeddedEngine = 'mongod' | 'mongodb-memory-server' | 'ferretdb';

export interface EmbeddedDatabase {
  uri: string;
  engine: EmbeddedEngine;
  version: string;
  dataDir: string;
  reused: boolean;
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
}

export class NoEmbeddedEngineError extends Error {
  constructor(attempts: string[]) {
    super(
      'No MongoDB-compatible server could be started.\n' +
        attempts.map((a) => `  - ${a}`).join('\n') +
        '\nSet MONGODB_URI to a running MongoDB (for example MONGODB_URI=mongodb://localhost:27017/call_scheduler, ' +
        'or `docker compose up mongo`), or install FerretDB with `npm run db:install`.',
    );
    this.name = 'NoEmbeddedEngineError';
  }
}

interface StateFile {
  pid: number;
  port: number;
  engine: EmbeddedEngine;
  version: string;
}

function which(binary: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
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
function spawnGuarded(binary: string, args: string[], logFile: string): ChildProcess {
  const quoted = [binary, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `${quoted} & child=$!; trap 'kill $child 2>/dev/null; wait $child; exit 0' TERM INT; ` +
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; kill $child 2>/dev/null; wait $child`;
  const out = openSync(logFile, 'a');
  const child = spawn('bash', ['-c', script], { stdio: ['ignore', out, out], detached: false });
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
  const found = which('ferretdb') ?? (existsSync(local) ? local : null);
  if (found || !options.allowInstall) return found;
  if (!which('go')) return null;
  options.log(`FerretDB not found; installing v1.24.2 into ${options.toolsDir} (first run only)`);
  const started = Date.now();
  await execFileAsync('bash', [join(options.projectRoot, 'scripts/install-ferretdb.sh'), options.toolsDir], {
    timeout: 10 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  options.log(`FerretDB installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return existsSync(local) ? local : null;
}

function mongoMemoryServerCached(): boolean {
  const dirs = [join(homedir(), '.cache', 'mongodb-binaries'), resolve('node_modules/.cache/mongodb-memory-server')];
  return dirs.some((d) => existsSync(d) && readdirSync(d).length > 0);
}

async function startProcess(
  engine: 'mongod' | 'ferretdb',
  binary: string,
  dataDir: string,
): Promise<{ child: ChildProcess; port: number; uri: string }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args =
      engine === 'mongod'
        ? ['--dbpath', dataDir, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet']
        : [
            '--handler=sqlite',
            `--sqlite-url=file:${dataDir}/`,
            `--listen-addr=127.0.0.1:${port}`,
            // The debug HTTP listener defaults to a fixed port, which two servers would fight over.
            '--debug-addr=-',
            '--telemetry=disable',
            `--state-dir=${dataDir}`,
            '--log-level=warn',
          ];
    const child = spawnGuarded(binary, args, join(dataDir, `${engine}.log`));
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
          dataDir,
          reused: true,
          stop: async () => undefined,
        };
      }
    }
    const attempts: string[] = [];
    const want = (engine: EmbeddedEngine) => options.engine === 'auto' || options.engine === engine;

    const candidates: Array<() => Promise<EmbeddedDatabase | null>> = [
      async () => {
        if (!want('mongod')) return null;
        const mongod = which('mongod');
        if (!mongod) {
          attempts.push('mongod: not on PATH');
          return null;
        }
        const dir = join(dataDir, 'mongod');
        mkdirSync(dir, { recursive: true });
        const { child, uri } = await startProcess('mongod', mongod, dir);
        const version = await versionOf(mongod, /db version v(\S+)/);
        return { uri, engine: 'mongod', version, dataDir: dir, reused: false, stop: () => stopChild(child) };
      },
      async () => {
        if (!want('mongodb-memory-server')) return null;
        // Only when its binary is already cached or explicitly requested: a download attempt on a
        // machine without internet access would only add a timeout to every start.
        if (options.engine === 'auto' && !mongoMemoryServerCached()) {
          attempts.push('mongodb-memory-server: no cached mongod binary (set EMBEDDED_DB_ENGINE=mongodb-memory-server to download one)');
          return null;
        }
        try {
          const { MongoMemoryServer } = await import('mongodb-memory-server-core');
          const dir = join(dataDir, 'mongodb-memory-server');
          mkdirSync(dir, { recursive: true });
          const server = await MongoMemoryServer.create({ instance: { dbPath: dir, storageEngine: 'wiredTiger', ip: '127.0.0.1' } });
          return {
            uri: server.getUri().replace(/\/?$/, '/'),
            engine: 'mongodb-memory-server',
            version: 'mongodb-memory-server',
            dataDir: dir,
            reused: false,
            stop: async () => {
              await server.stop({ doCleanup: false });
            },
          };
        } catch (error) {
          attempts.push(`mongodb-memory-server: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
          return null;
        }
      },
      async () => {
        if (!want('ferretdb')) return null;
        let binary: string | null;
        try {
          binary = await findFerretDb(options);
        } catch (error) {
          attempts.push(`ferretdb: install failed: ${error instanceof Error ? error.message.split('\n').slice(0, 3).join(' ') : String(error)}`);
          return null;
        }
        if (!binary) {
          attempts.push(`ferretdb: not on PATH nor in ${options.toolsDir}, and no Go toolchain to install it`);
          return null;
        }
        const dir = join(dataDir, 'ferretdb');
        mkdirSync(dir, { recursive: true });
        const { child, uri } = await startProcess('ferretdb', binary, dir);
        const version = await versionOf(binary, /version:\s*(\S+)/);
        return { uri, engine: 'ferretdb', version, dataDir: dir, reused: false, stop: () => stopChild(child) };
      },
    ];

    for (const candidate of candidates) {
      let db: EmbeddedDatabase | null;
      try {
        db = await candidate();
      } catch (error) {
        attempts.push(String(error instanceof Error ? error.message : error));
        db = null;
      }
      if (!db) continue;
      if (options.persistent) {
        const port = Number(new URL(db.uri).port);
        const state: StateFile = { pid: process.pid, port, engine: db.engine, version: db.version };
        writeFileSync(stateFile, JSON.stringify(state));
        const stop = db.stop;
        db = { ...db, stop: async () => { rmSync(stateFile, { force: true }); await stop(); } };
      } else {
        const stop = db.stop;
        db = { ...db, stop: async () => { await stop(); rmSync(dataDir, { recursive: true, force: true }); } };
      }
      return db;
    }
    throw new NoEmbeddedEngineError(attempts);
  } finally {
    release();
  }
}

export function withDatabaseName(uri: string, dbName: string): string {
  const url = new URL(uri);
  url.pathname = `/${dbName}`;
  return url.toString();
}
