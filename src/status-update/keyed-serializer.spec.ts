import { KeyedSerializer } from './keyed-serializer';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KeyedSerializer', () => {
  it('runs tasks of one key in arrival order, never overlapping, and other keys alongside', async () => {
    const serializer = new KeyedSerializer();
    const trace: string[] = [];
    const task = (name: string, ms: number) => async () => {
      trace.push(`start ${name}`);
      await tick(ms);
      trace.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([serializer.run('a', task('a1', 30)), serializer.run('a', task('a2', 1)), serializer.run('b', task('b1', 5))]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(trace.indexOf('end a1')).toBeLessThan(trace.indexOf('start a2'));
    expect(trace.indexOf('start b1')).toBeLessThan(trace.indexOf('end a1'));
    expect(serializer.pendingKeys).toBe(0);
  });

  it('keeps going after a failed task and hands the failure to its caller only', async () => {
    const serializer = new KeyedSerializer();
    const failed = serializer.run('a', async () => {
      throw new Error('boom');
    });
    const next = serializer.run('a', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
