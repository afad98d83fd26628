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

// A successful request's entry as the audit interceptor knows it before the handler runs (its success
// status included). A handler marked @RecordsOwnAudit receives it and has the entry written with its own
// change, under an id of its own, instead of the interceptor writing it before the response goes out.
export type AuditNote = Omit<NewAuditEntry, 'at' | 'target_id' | 'outcome' | 'error_code'>;

export function successEntry(note: AuditNote, at: Date, targetId: string | null): NewAuditEntry {
  return { ...note, at, target_id: targetId, outcome: 'success', error_code: null };
}

export interface AuditFilter {
  actor?: string;
  tenant_id?: string;
  action?: string;
  target_id?: string;
  outcome?: AuditOutcome;
  from?: Date;
  to?: Date;
}
