import { parse as parseCsv } from 'csv-parse';
import { pipeline, Transform, type Readable } from 'node:stream';
import { isPlainObject } from '../validation/free-object';
import { structuralProblem } from '../validation/validation.pipe';
import { jsonArrayElements } from './json-array-stream';

const INSERT_CHUNK = 1000;
const MAX_LISTED_INVALID = 1000;

export type RowImportFormat = 'csv' | 'json';

export interface RowImportReport {
  received: number;
  accepted: number;
  // Already stored, or repeated within this import.
  duplicate: number;
  invalid: number;
  // The first MAX_LISTED_INVALID invalid rows (1-based data rows); `invalid` counts them all.
  invalid_rows: Array<{ row: number; phone: string | null; reason: string }>;
  invalid_rows_truncated: boolean;
}

export interface PhoneRowImport<T extends { phone: string }> {
  format: RowImportFormat;
  maxBytes: number;
  maxRows: number;
  // A CSV header (lower-cased, trimmed names) that cannot be read gets this message; null accepts it.
  checkCsvHeader?: (names: string[]) => string | null;
  // A valid row, or why it is invalid.
  toRow: (record: unknown) => T | string;
  // Unordered insert of one chunk; the unique index sorts out numbers already stored.
  insert: (rows: T[]) => Promise<{ inserted: number; duplicates: number }>;
  // The module's own error for each way the whole import fails.
  errors: {
    tooLarge: (issue: string) => Error;
    tooManyRows: (issue: string) => Error;
    malformed: (issue: string) => Error;
  };
}

class UnreadableHeaderError extends Error {}

// An optional field of a row: absent, null or empty (CSV's missing column) all read as null.
export function optionalCell(value: unknown): unknown {
  return value === undefined || value === null || value === '' ? null : value;
}

// Reads a CSV or JSON-array upload as it arrives and writes it in unordered chunks: the body is never held
// in memory. Rows are checked one by one, phones deduplicated within the import, invalid rows reported.
export async function importPhoneRows<T extends { phone: string }>(body: Readable, spec: PhoneRowImport<T>): Promise<RowImportReport> {
  const report: RowImportReport = { received: 0, accepted: 0, duplicate: 0, invalid: 0, invalid_rows: [], invalid_rows_truncated: false };
  const seen = new Set<string>();
  let batch: T[] = [];
  // Counted in a pipe, not a 'data' listener: that would switch the body to flowing mode and buffer
  // whatever the parser and the inserts have not consumed yet, i.e. the whole upload.
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > spec.maxBytes) done(spec.errors.tooLarge(`The import body exceeds ${spec.maxBytes} bytes`));
      else done(null, chunk);
    },
  });
  pipeline(body, counted, () => undefined);
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const result = await spec.insert(rows);
    report.accepted += result.inserted;
    report.duplicate += result.duplicates;
  };

  const records: AsyncIterable<unknown> = spec.format === 'csv' ? csvRecords(counted, spec.checkCsvHeader) : jsonArrayElements(counted);
  try {
    for await (const record of records) {
      const row = ++report.received;
      if (row > spec.maxRows) throw spec.errors.tooManyRows(`At most ${spec.maxRows} rows per import; ${report.accepted + batch.length} were imported before the limit`);
      // A row is held to the same rules as a request body (no NUL, no prototype keys, bounded depth).
      const parsed = structuralProblem(record)?.issue ?? spec.toRow(record);
      if (typeof parsed === 'string') {
        report.invalid++;
        const phone = isPlainObject(record) && typeof record.phone === 'string' ? record.phone.slice(0, 40) : null;
        if (report.invalid_rows.length < MAX_LISTED_INVALID) report.invalid_rows.push({ row, phone, reason: parsed });
        else report.invalid_rows_truncated = true;
        continue;
      }
      if (seen.has(parsed.phone)) {
        report.duplicate++;
        continue;
      }
      seen.add(parsed.phone);
      batch.push(parsed);
      if (batch.length >= INSERT_CHUNK) await flush();
    }
    await flush();
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const header = error instanceof UnreadableHeaderError ? error : cause instanceof UnreadableHeaderError ? cause : null;
    if (header) throw spec.errors.malformed(header.message);
    if (error instanceof SyntaxError || (error as { code?: string }).code?.startsWith('CSV_')) {
      throw spec.errors.malformed(`Malformed ${spec.format.toUpperCase()} after row ${report.received}: ${(error as Error).message}`);
    }
    throw error;
  } finally {
    if (!body.destroyed) body.resume();
  }
  return report;
}

function csvRecords(stream: Readable, checkHeader?: (names: string[]) => string | null): AsyncIterable<Record<string, string>> {
  const parser = parseCsv({
    columns: (header: string[]) => {
      const names = header.map((h) => h.trim().toLowerCase());
      const problem = checkHeader?.(names) ?? null;
      if (problem) throw new UnreadableHeaderError(problem);
      return names;
    },
    skip_empty_lines: true,
    trim: true,
    bom: true,
    relax_column_count: true,
  });
  // pipe() does not forward errors: a body over the size limit must end the parse too.
  stream.on('error', (error) => parser.destroy(error));
  return stream.pipe(parser);
}
