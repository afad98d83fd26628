export interface Principal {
  sub: string;
  tenantId: string;
  userProfileId?: string;
  roles: string[];
  isAdmin: boolean;
}

// What a repository needs to scope a query: admins see every tenant, everyone else their own.
export interface TenantScope {
  tenantId: string;
  isAdmin: boolean;
}

export function scopeOf(principal: Principal): TenantScope {
  return { tenantId: principal.tenantId, isAdmin: principal.isAdmin };
}
