import { Schema } from 'mongoose';

// A collection stored with its nulls absent: a top-level field whose value is null is not written (an
// insert leaves it out, an update unsets it), and a read fills every field the schema declares and the
// document lacks with null. MongoDB's queries treat a missing field as null (`{f: null}` matches it,
// `{f: {$ne: null}}` does not, sorts place both first), and so does FerretDB.
// Why: FerretDB keeps a type schema beside every value, so a one-time schedule with its 17 null fields was
// 2.5 KB of jsonb, over PostgreSQL's 2 KB threshold, and stored compressed; every query and update scans
// the table and decompresses each row. Without its nulls it is 1.6 KB and stored as is: a scan of 10,000
// schedules took 2.5 ms against 17 ms (docs/decisions/0029-nulls-not-stored.md).

// The document without its top-level null fields (a new object; nested values are shared).
export function withoutNulls<T extends object>(doc: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) if (value !== null) out[key] = value;
  return out as T;
}

// Fills, in place, each top-level path of `schema` (but _id) that the document lacks with null.
export function nullFiller<D>(schema: Schema): (doc: D) => D {
  const paths = Object.keys(schema.paths).filter((p) => p !== '_id' && !p.includes('.'));
  return (doc) => {
    const record = doc as Record<string, unknown>;
    for (const path of paths) if (record[path] === undefined) record[path] = null;
    return doc;
  };
}

// The update that writes `set` with its nulls absent: the other fields set, the null ones unset.
export function updateWithoutNulls(set: Record<string, unknown>): { $set?: Record<string, unknown>; $unset?: Record<string, ''> } {
  const $set: Record<string, unknown> = {};
  const $unset: Record<string, ''> = {};
  for (const [key, value] of Object.entries(set)) {
    if (value === null) $unset[key] = '';
    else $set[key] = value;
  }
  return { ...(Object.keys($set).length > 0 ? { $set } : {}), ...(Object.keys($unset).length > 0 ? { $unset } : {}) };
}
