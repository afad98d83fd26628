// The per-document failures of an unordered insertMany (MongoBulkWriteError.writeErrors), each with the
// index of the document in the batch. Empty for any other error.
export interface WriteFailure {
  index: number;
  code: number | undefined;
}

export function writeErrorsOf(error: unknown): WriteFailure[] {
  const raw = (error as { writeErrors?: unknown } | null)?.writeErrors;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as Array<{ index?: number; code?: number; err?: { index?: number; code?: number } }>;
  return list.map((e) => ({ index: e.index ?? e.err?.index ?? -1, code: e.code ?? e.err?.code }));
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
