import { AdminSessionSigner, cookieValue } from './admin-session';

describe('AdminSessionSigner', () => {
  const now = new Date('2026-11-22T05:00:00Z');
  const signer = new AdminSessionSigner('s'.repeat(40));

  it('accepts its own unexpired cookie', () => {
    const value = signer.issue('root', new Date(now.getTime() + 60_000));
    expect(signer.verify(value, now)).toEqual({ sub: 'root', exp: Math.floor((now.getTime() + 60_000) / 1000) });
  });

  it('refuses expired, tampered, foreign and malformed values', () => {
    const value = signer.issue('root', new Date(now.getTime() + 60_000));
    expect(signer.verify(value, new Date(now.getTime() + 61_000))).toBeNull();
    const [payload, signature] = value.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'root', exp: 9_999_999_999 })).toString('base64url');
    expect(signer.verify(`${forged}.${signature}`, now)).toBeNull();
    expect(signer.verify(`${payload}.${signature.slice(1)}x`, now)).toBeNull();
    expect(new AdminSessionSigner('t'.repeat(40)).verify(value, now)).toBeNull();
    for (const bad of [undefined, '', 'abc', '.', 'a.b.c'.repeat(300)]) expect(signer.verify(bad, now)).toBeNull();
  });

  it('reads one cookie out of a Cookie header', () => {
    expect(cookieValue('a=1; cs_admin_session=x.y=; b=2', 'cs_admin_session')).toBe('x.y=');
    expect(cookieValue('a=1', 'cs_admin_session')).toBeUndefined();
    expect(cookieValue(undefined, 'cs_admin_session')).toBeUndefined();
  });
});
