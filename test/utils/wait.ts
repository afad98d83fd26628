// A deadline only bounds how long a failing test hangs; it never asserts speed. CI loads both cores (four jest
// workers beside the SQLite smoke part and the bench), which can stretch any short wait, so none is shorter
// than MIN_DEADLINE_MS. A passing wait is not slowed by it.
const MIN_DEADLINE_MS = 30_000;

export async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs: number, intervalMs = 100): Promise<T> {
  timeoutMs = Math.max(timeoutMs, MIN_DEADLINE_MS);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
