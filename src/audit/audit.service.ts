import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { JobOutcome } from '../jobs/job-queue.service';
import { AuditRepository } from './audit.repository';
import { AuditEntry, AuditFilter, NewAuditEntry } from './audit.types';

@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(
    private readonly entries: AuditRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  // An audit write that fails must not turn a done change into an error response: it is logged loudly.
  async record(entry: NewAuditEntry): Promise<void> {
    try {
      await this.entries.append(entry);
    } catch (error) {
      this.logger.error(`audit entry lost for ${entry.action} by ${entry.actor} (request ${entry.request_id}): ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // An entry under an id its change chose (a new schedule's own), written once however often it is
  // recorded: by the change after its response, or by the pass that finishes a change whose process stopped.
  async recordOnce(id: string, entry: NewAuditEntry): Promise<void> {
    await this.entries.appendOnce(id, entry);
  }

  find(filter: AuditFilter, limit: number, offset: number): Promise<{ total: number; entries: AuditEntry[] }> {
    return this.entries.findPage(filter, limit, offset);
  }

  async pruneExpired(): Promise<JobOutcome> {
    const cutoff = new Date(this.clock.now().getTime() - this.config.operations.auditRetentionDays * 24 * 3600 * 1000);
    const removed = await this.entries.deleteOlderThan(cutoff);
    return { outcome: `removed_${removed}` };
  }
}
