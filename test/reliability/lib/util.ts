import { setTimeout as delay } from 'node:timers/promises';

export const sleep = (ms: number): Promise<void> => delay(ms);

// Seeded, so that a failing run can be repeated with --seed.
export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0 || 1;
  }

  next(): number {
    // mulberry32
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  fork(salt: number): Rng {
    return new Rng((this.seed * 31 + salt) >>> 0);
  }
}

// Runs `work` over items with at most `limit` in flight.
export async function pool<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await work(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 1000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

// Distinct E.164 numbers (US 555-01xx style ranges are not all valid for libphonenumber; +1 415 area
// with a 7-digit suffix is), one per occurrence, so that the provider's record is keyed by callee.
export function phoneFor(scenarioIndex: number, i: number): string {
  return `+1415${String(2000000 + scenarioIndex * 100000 + i).padStart(7, '0')}`;
}

export function fmtMs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function countOf(items: string[]): Record<string, number> {
  return items.reduce<Record<string, number>>((acc, i) => ((acc[i] = (acc[i] ?? 0) + 1), acc), {});
}
