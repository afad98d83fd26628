import jwt, { SignOptions } from 'jsonwebtoken';
import { TEST_JWT_SECRET } from './test-config';

export function tokenFor(
  sub: string,
  options: { roles?: string[]; tenantId?: string; agentInstanceIds?: unknown; expiresIn?: SignOptions['expiresIn'] } = {},
): string {
  const claims = { ...(options.tenantId ? { tenant_id: options.tenantId } : {}), ...(options.agentInstanceIds !== undefined ? { agent_instance_ids: options.agentInstanceIds } : {}) };
  return jwt.sign({ sub, roles: options.roles ?? [], ...claims }, TEST_JWT_SECRET, {
    algorithm: 'HS256',
    expiresIn: options.expiresIn ?? '1h',
  });
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
