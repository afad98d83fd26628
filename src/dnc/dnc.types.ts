export const DNC_SOURCES = ['api', 'import'] as const;
export type DncSource = (typeof DNC_SOURCES)[number];

export interface DncEntry {
  id: string;
  tenant_id: string;
  phone: string;
  reason: string | null;
  source: DncSource;
  created_by: string | null;
  created_at: Date;
}

export type NewDncEntry = Omit<DncEntry, 'id'>;
