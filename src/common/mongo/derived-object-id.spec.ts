import { createHash } from 'node:crypto';
import { derivedObjectId } from './mongo-query';

// Stored records are keyed by these ids (do-not-call entries, idempotent bulk schedules, once-per-call
// events): the derivation must not change under them.
describe('derivedObjectId', () => {
  const sha = (text: string) => createHash('sha256').update(text).digest().subarray(0, 12).toString('hex');

  it('is the first 12 bytes of SHA-256 of the parts, one per line', () => {
    expect(derivedObjectId('tenant-a', '+14155552671').toHexString()).toBe(sha('tenant-a\n+14155552671'));
    expect(derivedObjectId('tenant-a', 'key-1', '3').toHexString()).toBe(sha('tenant-a\nkey-1\n3'));
  });

  it('gives the same id for the same parts and different ids otherwise', () => {
    expect(derivedObjectId('s1', 'call_final|l1').equals(derivedObjectId('s1', 'call_final|l1'))).toBe(true);
    expect(derivedObjectId('s1', 'call_final|l1').equals(derivedObjectId('s1', 'call_final|l2'))).toBe(false);
  });
});
