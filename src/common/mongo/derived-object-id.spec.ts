import { createHash } from 'node:crypto';
import { derivedObjectId, timedDerivedObjectId } from './mongo-query';

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

// Webhook deliveries are keyed by it and listed newest first by _id.
describe('timedDerivedObjectId', () => {
  it('carries the time, to the second, and then the first 8 bytes of SHA-256 of the parts', () => {
    const at = new Date('2026-12-06T03:04:05.678Z');
    const id = timedDerivedObjectId(at, 'event-1', 'subscription-1');
    expect(id.getTimestamp().toISOString()).toBe('2026-12-06T03:04:05.000Z');
    expect(id.toHexString().slice(8)).toBe(createHash('sha256').update('event-1\nsubscription-1').digest().subarray(0, 8).toString('hex'));
  });

  it('gives the same id for the same time and parts, and sorts by time', () => {
    const at = new Date('2026-12-06T03:04:05Z');
    expect(timedDerivedObjectId(at, 'e', 's').equals(timedDerivedObjectId(new Date(at.getTime() + 999), 'e', 's'))).toBe(true);
    expect(timedDerivedObjectId(at, 'e', 's').equals(timedDerivedObjectId(at, 'e', 's2'))).toBe(false);
    expect(timedDerivedObjectId(new Date(at.getTime() + 1000), 'a', 'a').toHexString() > timedDerivedObjectId(at, 'z', 'z').toHexString()).toBe(true);
  });
});
