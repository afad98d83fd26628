import { AppException } from '../common/errors/app.exception';
import { op } from '../common/mongo/mongo-query';
import { AgentInstanceNotAllowedException } from './auth.exceptions';

export interface Principal {
  sub: string;
  tenantId: string;
  userProfileId?: string;
  roles: string[];
  isAdmin: boolean;
  // The token's agent_instance_ids claim: when present, only these agent instances' records exist for it.
  agentInstanceIds?: string[];
}

// What a repository needs to scope a query: admins see every tenant, everyone else their own; a token
// scoped to agent instances sees, within that, only records of those instances.
export interface TenantScope {
  tenantId: string;
  isAdmin: boolean;
  agentInstanceIds?: string[];
}

export function scopeOf(principal: Principal): TenantScope {
  return { tenantId: principal.tenantId, isAdmin: principal.isAdmin, ...(principal.agentInstanceIds ? { agentInstanceIds: principal.agentInstanceIds } : {}) };
}

// The query filter of a collection whose records carry agent_instance_id (schedules, call logs).
export function scopeFilter(scope: TenantScope): Record<string, unknown> {
  return {
    ...(scope.isAdmin ? {} : { tenant_id: scope.tenantId }),
    ...(scope.agentInstanceIds ? { agent_instance_id: op({ $in: scope.agentInstanceIds }) } : {}),
  };
}

// The agent instance a record written with this principal carries: the one asked for if the token may
// act for it; by default, the token's only instance. A token scoped to several must name one.
export function agentInstanceFor(principal: Principal, requested: string | null | undefined): string | null {
  const allowed = principal.agentInstanceIds;
  if (!allowed) return requested ?? null;
  if (requested === null || requested === undefined) {
    if (allowed.length === 1) return allowed[0];
    throw new AppException('VALIDATION_002', { field: 'agent_instance_id', issue: `This token is scoped to several agent instances (${allowed.join(', ')}); give agent_instance_id` });
  }
  if (!allowed.includes(requested)) throw new AgentInstanceNotAllowedException(allowed);
  return requested;
}
