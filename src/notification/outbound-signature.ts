import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-CallScheduler-Signature';
export const EVENT_ID_HEADER = 'X-CallScheduler-Event-Id';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

function digest(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

// Signing the timestamp with the body is what lets a receiver reject a captured request replayed later.
export function signWebhookBody(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${digest(secret, t, body)}`;
}

export type SignatureCheck = 'valid' | 'malformed' | 'mismatch' | 'expired';

// The receiver's side, as documented in docs/notifications.md ("Verifying a delivery"); kept here so the tests verify what we tell users to do.
export function verifyWebhookSignature(secret: string, body: string, header: string | undefined, now: Date, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS): SignatureCheck {
  if (!header) return 'malformed';
  const parts = new Map<string, string[]>();
  for (const item of header.split(',')) {
    const [k, v] = item.split('=', 2);
    if (!k || v === undefined) return 'malformed';
    parts.set(k.trim(), [...(parts.get(k.trim()) ?? []), v.trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  const candidates = parts.get('v1') ?? [];
  if (!Number.isInteger(t) || candidates.length === 0) return 'malformed';
  const expected = Buffer.from(digest(secret, t, body), 'hex');
  const matches = candidates.some((c) => {
    const given = Buffer.from(c, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) return 'mismatch';
  return Math.abs(now.getTime() / 1000 - t) > toleranceSeconds ? 'expired' : 'valid';
}
