import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// Production runs mongo:7 (docker-compose.yml); the embedded real MongoDB is the same major version.
export const EMBEDDED_MONGODB_VERSION = '7.0.14';
// Offline, the download host does not resolve (about 7 s here) or does not answer: give up at this bound.
export const DOWNLOAD_PROBE_TIMEOUT_MS = 10_000;
// After a failed download, starts within this window skip the attempt instead of waiting for it again.
export const DOWNLOAD_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

export interface MongoDownloadOptions {
  version: string;
  // Where a failed attempt is remembered (a JSON file), so that the next start does not wait again.
  failureFile: string;
  probeTimeoutMs: number;
  retryAfterMs: number;
  // A mirror of fastdl.mongodb.org (mongodb-memory-server's DOWNLOAD_MIRROR); tests point it at a local server.
  mirror?: string;
  now: () => number;
  log: (message: string) => void;
}

export type MongoBinaryResult = { binary: string } | { skipped: string };

interface FailureRecord {
  version: string;
  url: string;
  failed_at: string;
  reason: string;
}

type Mms = typeof import('mongodb-memory-server-core');

function readFailure(file: string): FailureRecord | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as FailureRecord;
  } catch {
    return null;
  }
}

function firstLine(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const message = error instanceof Error ? error.message : String(error);
  const detail = cause?.code ?? cause?.message;
  return `${message.split('\n')[0]}${detail ? ` (${detail})` : ''}`;
}

async function downloadUrl(mms: Mms, version: string, mirror: string | undefined): Promise<string> {
  const { MongoBinaryDownloadUrl } = await import('mongodb-memory-server-core/lib/util/MongoBinaryDownloadUrl');
  const { ResolveConfigVariables, setDefaultValue } = await import('mongodb-memory-server-core/lib/util/resolveConfig');
  if (mirror) setDefaultValue(ResolveConfigVariables.DOWNLOAD_MIRROR, mirror);
  const generated = await mms.DryMongoBinary.generateOptions({ version });
  return new MongoBinaryDownloadUrl(generated).getDownloadUrl();
}

// The probe only asks whether the archive can be had; the download itself is mongodb-memory-server's own.
async function probe(url: string, timeoutMs: number): Promise<string | null> {
  try {
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    await res.body?.cancel().catch(() => undefined);
    return res.ok ? null : `${url} answered HTTP ${res.status}`;
  } catch (error) {
    const name = (error as { name?: string } | null)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') return `${url} gave no answer within ${timeoutMs} ms`;
    return `${url} could not be reached: ${firstLine(error)}`;
  }
}

// A real MongoDB binary through mongodb-memory-server: its cache first, else one download, bounded when
// the machine is offline and not retried for a day after a failure.
export async function mongoBinaryFromMemoryServer(options: MongoDownloadOptions): Promise<MongoBinaryResult> {
  const mms = await import('mongodb-memory-server-core');
  const cached = await mms.DryMongoBinary.locateBinary({ version: options.version });
  if (cached) return { binary: cached };

  const failure = readFailure(options.failureFile);
  if (failure && failure.version === options.version) {
    const retryAt = Date.parse(failure.failed_at) + options.retryAfterMs;
    if (options.now() < retryAt) {
      return {
        skipped:
          `MongoDB ${options.version} is not cached and its download failed at ${failure.failed_at} (${failure.reason}); ` +
          `not retried before ${new Date(retryAt).toISOString()} (delete ${options.failureFile} to retry now)`,
      };
    }
  }

  let url: string;
  try {
    url = await downloadUrl(mms, options.version, options.mirror);
  } catch (error) {
    // No archive of this version for this platform: nothing to wait for, and nothing to retry later.
    return { skipped: firstLine(error) };
  }
  const remember = (reason: string): MongoBinaryResult => {
    mkdirSync(dirname(options.failureFile), { recursive: true });
    const record: FailureRecord = { version: options.version, url, failed_at: new Date(options.now()).toISOString(), reason };
    writeFileSync(options.failureFile, JSON.stringify(record, null, 2));
    return { skipped: `MongoDB ${options.version} is not cached and cannot be downloaded: ${reason}` };
  };

  const unreachable = await probe(url, options.probeTimeoutMs);
  if (unreachable) return remember(unreachable);
  options.log(`Downloading MongoDB ${options.version} from ${url} (once; cached for later starts)`);
  try {
    const binary = await mms.MongoBinary.getPath({ version: options.version });
    rmSync(options.failureFile, { force: true });
    return { binary };
  } catch (error) {
    return remember(`download of ${url} failed: ${firstLine(error)}`);
  }
}
