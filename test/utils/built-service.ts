import { transformFile } from '@swc/core';
import { ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { freePort } from './free-port';
import { waitFor } from './wait';

const ROOT = join(__dirname, '..', '..');

async function sourcesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourcesUnder(path)));
    else if ((entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')) || entry.name.endsWith('.json')) out.push(path);
  }
  return out;
}

// Compiles src/ with swc (as jest does) into test/artifacts/, so the service runs in plain Node rather
// than inside jest's module system: some packages (Agendash) are ES modules only Node itself can require.
export async function buildService(name: string): Promise<string> {
  const outDir = join(ROOT, 'test', 'artifacts', name);
  for (const file of await sourcesUnder(join(ROOT, 'src'))) {
    if (file.endsWith('.json')) {
      const target = join(outDir, relative(join(ROOT, 'src'), file));
      await mkdir(dirname(target), { recursive: true });
      await copyFile(file, target);
      continue;
    }
    const { code } = await transformFile(file, {
      jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2023' },
      module: { type: 'commonjs' },
      sourceMaps: false,
    });
    const target = join(outDir, relative(join(ROOT, 'src'), file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, code);
  }
  return outDir;
}

function spawnBuiltService(outDir: string, env: Record<string, string>, port: number): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [join(outDir, 'main.js')], {
    cwd: outDir,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', LOG_LEVEL: 'error', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

// Runs the service on a given port until it exits by itself (a startup failure), within timeoutMs.
export async function runBuiltServiceToExit(outDir: string, env: Record<string, string>, port: number, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const { child, output, exited } = spawnBuiltService(outDir, env, port);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return { code, output: output() };
}

export interface RunningService {
  url: string;
  output: () => string;
  stop(): Promise<number | null>;
}

export async function startBuiltService(outDir: string, env: Record<string, string>): Promise<RunningService> {
  const port = await freePort();
  const { child, output, exited } = spawnBuiltService(outDir, env, port);
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (exitCode !== undefined) throw new Error(`exited with ${exitCode}`);
      return (await fetch(`${url}/health/ready`).catch(() => null))?.ok;
    }, 60_000, 200);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`service did not become ready: ${String(error)}\n${output()}`);
  }
  return {
    url,
    output,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
