import { MongoNetworkError, MongoServerError } from 'mongodb';
import { isTransientConnectionError, retryTransient } from './transient-retry';

describe('retryTransient', () => {
  const failingTimes = (n: number, error: () => Error) => {
    let calls = 0;
    const write = async () => {
      calls++;
      if (calls <= n) throw error();
      return calls;
    };
    return { write, calls: () => calls };
  };

  it('retries a write through connection errors (a database restart) until it succeeds', async () => {
    const op = failingTimes(3, () => new MongoNetworkError('connection 4 to 127.0.0.1:27017 closed'));
    await expect(retryTransient(op.write, 10_000)).resolves.toBe(4);
    expect(op.calls()).toBe(4);
  });

  it('gives up once the time limit has passed', async () => {
    const op = failingTimes(1_000, () => new Error('Operation `x.updateOne()` buffering timed out after 10000ms'));
    await expect(retryTransient(op.write, 300)).rejects.toThrow(/buffering timed out/);
    expect(op.calls()).toBeGreaterThan(1);
  });

  it('does not retry other errors', async () => {
    const op = failingTimes(5, () => new MongoServerError({ message: 'E11000 duplicate key', code: 11000 }));
    await expect(retryTransient(op.write, 10_000)).rejects.toThrow(/duplicate key/);
    expect(op.calls()).toBe(1);
  });

  it('recognises the driver errors of an unreachable server', () => {
    expect(isTransientConnectionError(Object.assign(new Error('Server selection timed out after 30000 ms'), { name: 'MongoServerSelectionError' }))).toBe(true);
    expect(isTransientConnectionError(new Error('connect ECONNREFUSED 127.0.0.1:27017'))).toBe(true);
    expect(isTransientConnectionError(new Error('validation failed'))).toBe(false);
    expect(isTransientConnectionError('ECONNREFUSED')).toBe(false);
  });
});
