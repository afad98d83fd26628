import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { importPhoneRows, optionalCell, RowImportFormat, RowImportReport } from '../common/http/phone-row-import';
import { Clock } from '../common/clock/clock';
import { isPlainObject } from '../common/validation/free-object';
import { toE164 } from '../common/validation/is-phone.decorator';
import { DncRepository } from './dnc.repository';
import { InvalidDncImportException } from './dnc.exceptions';
import { NewDncEntry } from './dnc.types';
import { MAX_REASON_LENGTH } from './dto/dnc.dto';

export const MAX_DNC_IMPORT_ROWS = 100_000;
export const MAX_DNC_IMPORT_BYTES = 32 * 1024 * 1024;

export type DncImportFormat = RowImportFormat;
export type DncImportReport = RowImportReport;

@Injectable()
export class DncImportService {
  constructor(
    private readonly entries: DncRepository,
    private readonly clock: Clock,
  ) {}

  importStream(tenantId: string, createdBy: string, format: DncImportFormat, body: Readable): Promise<DncImportReport> {
    return importPhoneRows(body, {
      format,
      maxBytes: MAX_DNC_IMPORT_BYTES,
      maxRows: MAX_DNC_IMPORT_ROWS,
      checkCsvHeader: (names) => (names.includes('phone') ? null : 'The CSV header must name a phone column (phone[,reason])'),
      toRow: (record) => this.toEntry(record, tenantId, createdBy),
      insert: (rows) => this.entries.insertManyUnordered(rows),
      errors: {
        tooLarge: (issue) => new InvalidDncImportException('body', issue, 'too_large'),
        tooManyRows: (issue) => new InvalidDncImportException('body', issue),
        malformed: (issue) => new InvalidDncImportException('body', issue),
      },
    });
  }

  private toEntry(record: unknown, tenantId: string, createdBy: string): NewDncEntry | string {
    if (!isPlainObject(record)) return 'a row must be an object with a phone';
    const raw = record.phone;
    if (typeof raw !== 'string' || raw.trim() === '') return 'phone is required';
    const phone = toE164(raw);
    if (!phone) return 'phone is not a valid international number';
    const reason = optionalCell(record.reason);
    if (reason !== null && (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH)) return `reason must be a string of at most ${MAX_REASON_LENGTH} characters`;
    return { tenant_id: tenantId, phone, reason: reason as string | null, source: 'import', created_by: createdBy, created_at: this.clock.now() };
  }
}
