import { requestIdFor } from './request-id';

describe('requestIdFor', () => {
  it('keeps a sane incoming id', () => {
    expect(requestIdFor('proxy-7f3a9c1e')).toBe('proxy-7f3a9c1e');
    expect(requestIdFor('0f5c1c8e-4a57-4a8e-9a59-8c3c2f7f4f1e')).toBe('0f5c1c8e-4a57-4a8e-9a59-8c3c2f7f4f1e');
  });

  it('replaces missing, short, long or unsafe ids with a UUID', () => {
    for (const bad of [undefined, '', 'short', 'x'.repeat(129), 'id with spaces', 'line\nbreak-injection', ['a', 'b']]) {
      expect(requestIdFor(bad)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });
});
