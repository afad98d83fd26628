import { createHmac, timingSafeEqual } from 'node:crypto';

export const ADMIN_SESSION_COOKIE = 'cs_admin_session';
export const ADMIN_JOBS_PATH = '/admin/jobs';

interface SessionClaims {
  sub: string;
  exp: number;
}

// A short-lived cookie for browsers, which cannot add a bearer header to every asset Agendash loads.
// Signed with a key derived from JWT_SECRET, so every instance behind a proxy accepts it and it cannot be
// replayed as an API token.
export class AdminSessionSigner {
  private readonly key: Buffer;

  constructor(jwtSecret: string) {
    this.key = createHmac('sha256', jwtSecret).update('admin-session-cookie').digest();
  }

  issue(sub: string, expiresAt: Date): string {
    const payload = Buffer.from(JSON.stringify({ sub, exp: Math.floor(expiresAt.getTime() / 1000) })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  verify(value: string | undefined, now: Date): SessionClaims | null {
    if (!value || value.length > 1024) return null;
    const [payload, signature] = value.split('.');
    if (!payload || !signature) return null;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as SessionClaims;
      if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || claims.exp * 1000 <= now.getTime()) return null;
      return claims;
    } catch {
      return null;
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}
