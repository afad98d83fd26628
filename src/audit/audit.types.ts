export const AUDIT_OUTCOMES = ['success', 'error'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEntry {
  id: string;
  at: Date;
  actor: string;
  tenant_id: string;
  action: string;
  method: string;
  route: string;
  target_id: string | null;
  request_id: string | null;
  // Which token made the call, without storing it: the first 16 hex digits of its SHA-256.
  token_fingerprint: string | null;
  outcome: AuditOutcome;
  status_code: number;
  error_code: string | null;
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export interface AuditFilter {
  actor?: string;
  tenant_id?: string;
  action?: string;
  target_id?: string;
  outcome?: AuditOutcome;
  from?: Date;
  to?: Date;
}
