// The per-document failures of an unordered insertMany (MongoBulkWriteError.writeErrors), each with the
// index of the document in the batch. Empty for any other error.
export interface WriteFailure {
  index: number;
  code: number | undefined;
  message: string;
}

type RawWriteError = { index?: number; code?: number; errmsg?: string; err?: { index?: number; code?: number; errmsg?: string } };

export function writeErrorsOf(error: unknown): WriteFailure[] {
  const raw = (error as { writeErrors?: unknown } | null)?.writeErrors;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as RawWriteError[];
  return list.map((e) => ({ index: e.index ?? e.err?.index ?? -1, code: e.code ?? e.err?.code, message: e.errmsg ?? e.err?.errmsg ?? 'write failed' }));
}

// Per item of an unordered batch: undefined (applied) or its own error, shaped like the error a single
// write would have thrown (a duplicate key keeps code 11000). null when the failure cannot be told apart
// per item: the whole command failed.
export function perItemFailures(error: unknown, count: number): Array<Error | undefined> | null {
  const failures = writeErrorsOf(error);
  if (failures.length === 0 || failures.some((f) => f.index < 0 || f.index >= count)) return null;
  const out: Array<Error | undefined> = new Array(count).fill(undefined);
  for (const f of failures) out[f.index] = Object.assign(new Error(f.message), { code: f.code });
  return out;
}

// An unordered insert whose only failures are duplicate keys: how many documents were refused.
export function duplicatesOnly(error: unknown): number | null {
  const failures = writeErrorsOf(error);
  return failures.length > 0 && failures.every((f) => f.code === 11000) ? failures.length : null;
}

// The same, as the batch indexes of the documents refused (null for any other error, or one without indexes).
export function duplicateIndexes(error: unknown): number[] | null {
  const failures = writeErrorsOf(error);
  return failures.length > 0 && failures.every((f) => f.code === 11000 && f.index >= 0) ? failures.map((f) => f.index) : null;
}
