import { Injectable } from '@nestjs/common';
import { DateTime } from 'luxon';
import type { Readable } from 'node:stream';
import { Clock } from '../common/clock/clock';
import { importPhoneRows, optionalCell, RowImportFormat, RowImportReport } from '../common/http/phone-row-import';
import { checkFreeObject, isPlainObject } from '../common/validation/free-object';
import { toE164 } from '../common/validation/is-phone.decorator';
import { AppConfig } from '../config/app-config';
import { isValidTimezone } from '../schedule/recurrence/recurrence';
import { CampaignContactRepository, NewContact } from './campaign-contact.repository';
import { InvalidCampaignInputException } from './campaign.exceptions';

export const MAX_CONTACTS_PER_IMPORT = 100_000;
export const MAX_IMPORT_BYTES = 64 * 1024 * 1024;
const KNOWN_COLUMNS = new Set(['phone', 'name', 'timezone', 'due_date', 'contact_status', 'variables']);

export type ImportFormat = RowImportFormat;
export type ImportReport = RowImportReport;

@Injectable()
export class ContactImportService {
  constructor(
    private readonly contacts: CampaignContactRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  importStream(campaignId: string, tenantId: string, eligibleFrom: Date | null, format: ImportFormat, body: Readable): Promise<ImportReport> {
    return importPhoneRows(body, {
      format,
      maxBytes: MAX_IMPORT_BYTES,
      maxRows: MAX_CONTACTS_PER_IMPORT,
      toRow: (record) => this.toContact(record, format),
      insert: (rows) => {
        const now = this.clock.now();
        return this.contacts.insertNew(campaignId, tenantId, rows, now, eligibleFrom ?? now);
      },
      errors: {
        tooLarge: (issue) => new InvalidCampaignInputException('CAMPAIGN_005', 'body', issue),
        tooManyRows: (issue) => new InvalidCampaignInputException('CAMPAIGN_005', 'contacts', issue),
        malformed: (issue) => new InvalidCampaignInputException('CAMPAIGN_004', 'body', issue),
      },
    });
  }

  private toContact(record: unknown, format: ImportFormat): NewContact | string {
    if (!isPlainObject(record)) return 'a contact must be an object';
    const phoneRaw = record.phone;
    if (typeof phoneRaw !== 'string' || phoneRaw.trim() === '') return 'phone is required';
    const phone = toE164(phoneRaw);
    if (!phone) return 'phone is not a valid international number';
    const name = optionalCell(record.name);
    if (name !== null && (typeof name !== 'string' || name.length > 200)) return 'name must be a string of at most 200 characters';
    const timezone = optionalCell(record.timezone);
    if (timezone !== null && (typeof timezone !== 'string' || !isValidTimezone(timezone))) return 'timezone must be an IANA timezone name';
    const due = optionalCell(record.due_date);
    if (due !== null && (typeof due !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(due) || !DateTime.fromISO(due).isValid)) return 'due_date must be a YYYY-MM-DD date';

    const contactStatus = optionalCell(record.contact_status);
    if (contactStatus !== null && (typeof contactStatus !== 'string' || contactStatus.length > 64)) return 'contact_status must be a string of at most 64 characters';

    let variables: Record<string, unknown> = {};
    if (format === 'csv') {
      for (const [key, value] of Object.entries(record)) if (!KNOWN_COLUMNS.has(key) && value !== '') variables[key] = value;
      if (typeof record.variables === 'string' && record.variables !== '') {
        try {
          const parsed: unknown = JSON.parse(record.variables);
          if (!isPlainObject(parsed)) return 'variables must be a JSON object';
          variables = { ...variables, ...parsed };
        } catch {
          return 'variables must be a JSON object';
        }
      }
    } else {
      for (const key of Object.keys(record)) if (!KNOWN_COLUMNS.has(key)) return `${key} is not an accepted field`;
      if (record.variables !== undefined && record.variables !== null) {
        if (!isPlainObject(record.variables)) return 'variables must be an object';
        variables = record.variables;
      }
    }
    const problem = checkFreeObject(variables, 'variables', this.config.metadataMaxBytes);
    if (problem) return `${problem.path}: ${problem.issue}`;
    return { phone, name: name as string | null, timezone: timezone as string | null, variables, due_date: due as string | null, contact_status: contactStatus as string | null };
  }
}
