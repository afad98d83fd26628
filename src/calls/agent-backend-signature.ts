import { createHmac, timingSafeEqual } from 'node:crypto';

export const AGENT_BACKEND_SIGNATURE_HEADER = 'x-agent-backend-signature';

// Like Twilio's scheme, over JSON: hex HMAC-SHA256, keyed with BACKEND_INTERNAL_TOKEN, of the full public
// callback URL (as we passed it) immediately followed by the raw request body.
export function signAgentBackendCallback(token: string, url: string, rawBody: string): string {
  return createHmac('sha256', token).update(url + rawBody, 'utf8').digest('hex');
}

export function isValidAgentBackendSignature(token: string, signature: string, url: string, rawBody: string): boolean {
  const expected = Buffer.from(signAgentBackendCallback(token, url, rawBody), 'utf8');
  const given = Buffer.from(signature.trim().toLowerCase(), 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
