import { createHmac } from 'node:crypto';
import { generateWebhookSecret, signWebhookBody, verifyWebhookSignature } from './outbound-signature';

describe('outbound webhook signature', () => {
  const secret = 'whsec_test_secret_value';
  const body = JSON.stringify({ id: 'e1', type: 'call.completed', created_at: '2026-01-01T00:00:00.000Z', data: {} });
  const at = new Date('2026-01-01T00:00:00.000Z');

  it('is t=<unix>,v1=<hex HMAC-SHA256 of "t.body">', () => {
    const header = signWebhookBody(secret, body, at);
    const t = at.getTime() / 1000;
    expect(header).toBe(`t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`);
  });

  it('verifies within the tolerance and rejects tampering, other secrets and replays', () => {
    const header = signWebhookBody(secret, body, at);
    expect(verifyWebhookSignature(secret, body, header, new Date(at.getTime() + 299_000))).toBe('valid');
    expect(verifyWebhookSignature(secret, body, header, new Date(at.getTime() + 301_000))).toBe('expired');
    expect(verifyWebhookSignature(secret, body.replace('e1', 'e2'), header, at)).toBe('mismatch');
    expect(verifyWebhookSignature('whsec_other', body, header, at)).toBe('mismatch');
    expect(verifyWebhookSignature(secret, body, header.replace(/t=\d+/, `t=${at.getTime() / 1000 + 1}`), at)).toBe('mismatch');
    expect(verifyWebhookSignature(secret, body, 'garbage', at)).toBe('malformed');
    expect(verifyWebhookSignature(secret, body, undefined, at)).toBe('malformed');
  });

  it('generates distinct high-entropy secrets', () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(generateWebhookSecret()).not.toBe(a);
  });
});
