import { maskPhone } from '../../notification/phone-mask';

// Header and field paths pino replaces with "[redacted]" wherever they appear in a log line.
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-twilio-signature"]',
  'req.headers["x-signature"]',
  'req.headers["x-webhook-signature"]',
  'req.headers["x-metrics-token"]',
  'res.headers["set-cookie"]',
  'authorization',
  'token',
  'secret',
  'password',
  'auth_token',
  'authToken',
  'signing_secret',
  'signingToken',
  '*.authorization',
  '*.token',
  '*.secret',
  '*.password',
  '*.auth_token',
  '*.authToken',
  '*.signing_secret',
  '*.signingToken',
];

// E.164 (also URL-encoded as %2B) and long bare digit runs. Ids are hex, so a digit run inside one is not
// on a word boundary and stays untouched.
const PHONE_LIKE = /(?:\+|%2B)\d{7,15}\b|\b\d{10,15}\b/gi;
const BEARER = /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT_LIKE = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

export function maskSensitiveText(text: string): string {
  return text
    .replace(BEARER, 'Bearer [redacted]')
    .replace(JWT_LIKE, '[redacted-jwt]')
    .replace(PHONE_LIKE, (match) => (match.toUpperCase().startsWith('%2B') ? maskPhone(`+${match.slice(3)}`) : maskPhone(match)));
}

// Applied to every logged object (after redaction of known paths): strings anywhere get the text mask.
export function maskSensitiveValues(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskSensitiveText(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskSensitiveValues(v, depth + 1));
  if (value instanceof Error) return { type: value.name, message: maskSensitiveText(value.message), stack: value.stack ? maskSensitiveText(value.stack) : undefined };
  // Request/response objects and the like are left to their serializers.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) out[key] = maskSensitiveValues(v, depth + 1);
  return out;
}
