import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { insertedUnlessDuplicate, op, toObjectId } from '../common/mongo/mongo-query';
import { BulkRequestDoc } from './schemas/bulk-request.schema';
import type { BulkItemResult } from './schedule-bulk.service';

@Injectable()
export class BulkRequestRepository {
  constructor(@InjectModel(BulkRequestDoc.name) private readonly requests: Model<BulkRequestDoc>) {}

  async saveResults(id: string, tenantId: string, results: BulkItemResult[], now: Date): Promise<void> {
    await insertedUnlessDuplicate(() => this.requests.collection.insertOne({ _id: new Types.ObjectId(id), tenant_id: tenantId, results, created_at: now }));
  }

  async findResults(id: string, tenantId: string): Promise<BulkItemResult[] | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.requests.findOne({ _id, tenant_id: tenantId }).lean<BulkRequestDoc>();
    return doc ? (doc.results as unknown as BulkItemResult[]) : null;
  }

  // Retention: answers stored with their Idempotency-Key, deleted with it.
  async deleteCreatedBefore(cutoff: Date): Promise<number> {
    return (await this.requests.deleteMany({ created_at: op({ $lt: cutoff }) })).deletedCount;
  }
}
