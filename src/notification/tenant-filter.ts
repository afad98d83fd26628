import { TenantScope } from '../auth/principal';
import { toObjectId } from '../common/mongo/mongo-query';

// A record's filter as the caller may see it: another tenant's record is indistinguishable from a
// missing one. null: the id cannot name a record.
export function recordFilter(id: string, scope: TenantScope | null): Record<string, unknown> | null {
  const _id = toObjectId(id);
  if (!_id) return null;
  return !scope || scope.isAdmin ? { _id } : { _id, tenant_id: scope.tenantId };
}

export function tenantFilter(scope: TenantScope): Record<string, unknown> {
  return scope.isAdmin ? {} : { tenant_id: scope.tenantId };
}
