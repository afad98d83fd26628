import { SharedReads } from './shared-reads';

// A read the test finishes by hand, counting how many were started.
function manualLoads() {
  const started: Array<{ resolve: (v: string) => void; reject: (e: Error) => void }> = [];
  const load = () => new Promise<string>((resolve, reject) => started.push({ resolve, reject }));
  return { started, load };
}
const flush = () => new Promise((r) => setImmediate(r));

describe('SharedReads', () => {
  it('answers callers that arrive while a read runs with one fresh read started after it', async () => {
    const reads = new SharedReads();
    const { started, load } = manualLoads();
    const first = reads.read('k', load);
    await flush();
    const later = [reads.read('k', load), reads.read('k', load), reads.read('k', load)];
    await flush();
    expect(started).toHaveLength(1);
    started[0].resolve('before');
    expect(await first).toBe('before');
    await flush();
    expect(started).toHaveLength(2);
    started[1].resolve('after');
    expect(await Promise.all(later)).toEqual(['after', 'after', 'after']);
    await flush();
    expect(reads.size).toBe(0);
  });

  it('keeps keys apart, and starts afresh once nothing is in flight', async () => {
    const reads = new SharedReads();
    const { started, load } = manualLoads();
    const a = reads.read('a', load);
    const b = reads.read('b', load);
    await flush();
    expect(started).toHaveLength(2);
    started[0].resolve('a1');
    started[1].resolve('b1');
    expect([await a, await b]).toEqual(['a1', 'b1']);
    await flush();
    const again = reads.read('a', load);
    await flush();
    expect(started).toHaveLength(3);
    started[2].resolve('a2');
    expect(await again).toBe('a2');
  });

  it('gives a failed read to its own callers only; the waiting ones get the next read', async () => {
    const reads = new SharedReads();
    const { started, load } = manualLoads();
    const first = reads.read('k', load);
    await flush();
    const waiting = reads.read('k', load);
    started[0].reject(new Error('query timed out'));
    await expect(first).rejects.toThrow('query timed out');
    await flush();
    started[1].resolve('fresh');
    expect(await waiting).toBe('fresh');
    await flush();
    expect(reads.size).toBe(0);
  });

  it('never answers a caller with a read that started before it asked, however the reads follow each other', async () => {
    const reads = new SharedReads();
    const { started, load } = manualLoads();
    const a = reads.read('k', load);
    const b = reads.read('k', load);
    await flush();
    started[0].resolve('first');
    // b waits on the first read, which has settled; c asks before b's read has started, and shares it.
    const c = reads.read('k', load);
    expect(await a).toBe('first');
    await flush();
    expect(started).toHaveLength(2);
    // d asks while b's and c's read runs: it gets the one after.
    const d = reads.read('k', load);
    started[1].resolve('second');
    expect([await b, await c]).toEqual(['second', 'second']);
    await flush();
    expect(started).toHaveLength(3);
    started[2].resolve('third');
    expect(await d).toBe('third');
    await flush();
    expect(reads.size).toBe(0);
  });
});
