import jwt, { SignOptions } from 'jsonwebtoken';
import { TEST_JWT_SECRET } from './test-config';

export function tokenFor(sub: string, options: { roles?: string[]; tenantId?: string; expiresIn?: SignOptions['expiresIn'] } = {}): string {
  return jwt.sign({ sub, roles: options.roles ?? [], ...(options.tenantId ? { tenant_id: options.tenantId } : {}) }, TEST_JWT_SECRET, {
    algorithm: 'HS256',
    expiresIn: options.expiresIn ?? '1h',
  });
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
