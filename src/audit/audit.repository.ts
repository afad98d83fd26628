import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { insertedUnlessDuplicate, op, retryOnLockContention, toObjectId } from '../common/mongo/mongo-query';
import { findPageWithin } from '../common/mongo/query-time-limit';
import { AppConfig } from '../config/app-config';
import { AuditEntry, AuditFilter, NewAuditEntry } from './audit.types';
import { AuditEntryDoc } from './schemas/audit-entry.schema';

type LeanEntry = AuditEntryDoc & { _id: { toString(): string } };

function toEntry(doc: LeanEntry): AuditEntry {
  const { _id, ...rest } = doc;
  return { id: _id.toString(), ...rest } as AuditEntry;
}

@Injectable()
export class AuditRepository {
  // Every API write records an entry: concurrent ones share one insertMany.
  private readonly inserts: CoalescedInserts<AuditEntryDoc>;

  constructor(
    @InjectModel(AuditEntryDoc.name) private readonly entries: Model<AuditEntryDoc>,
    private readonly config: AppConfig,
  ) {
    this.inserts = new CoalescedInserts(entries);
  }

  async append(entry: NewAuditEntry): Promise<void> {
    await retryOnLockContention(() => this.inserts.insert({ ...entry }));
  }

  // A repeat is a refused unique insert.
  async appendOnce(id: string, entry: NewAuditEntry): Promise<void> {
    const _id = toObjectId(id);
    if (!_id) throw new Error(`audit entry id ${id} is not an ObjectId`);
    await retryOnLockContention(() => insertedUnlessDuplicate(() => this.inserts.insert({ _id, ...entry })));
  }

  async findPage(filter: AuditFilter, limit: number, offset: number): Promise<{ total: number; entries: AuditEntry[] }> {
    const query: Record<string, unknown> = {};
    for (const key of ['actor', 'tenant_id', 'action', 'target_id', 'outcome'] as const) {
      if (filter[key] !== undefined) query[key] = filter[key];
    }
    if (filter.from || filter.to) query.at = op({ ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lte: filter.to } : {}) });
    const [docs, total] = await findPageWithin<AuditEntryDoc, LeanEntry>(this.entries, query, { at: -1, _id: -1 }, { offset, limit }, this.config.apiQueryMaxTimeMs);
    return { total, entries: docs.map(toEntry) };
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    const res = await retryOnLockContention(() => this.entries.deleteMany({ at: op({ $lt: cutoff }) }));
    return res.deletedCount ?? 0;
  }
}
