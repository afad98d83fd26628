import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { isDuplicateKeyError, op } from '../common/mongo/mongo-query';
import { IdempotencyKeyDoc } from './schemas/idempotency-key.schema';

export type Reservation =
  | { reserved: true }
  | { reserved: false; requestHash: string; resourceId: string };

@Injectable()
export class IdempotencyKeyRepository {
  private readonly inserts: CoalescedInserts<IdempotencyKeyDoc>;

  constructor(@InjectModel(IdempotencyKeyDoc.name) private readonly keys: Model<IdempotencyKeyDoc>) {
    this.inserts = new CoalescedInserts(keys);
  }

  async reserveKey(input: { tenantId: string; scope: string; key: string; requestHash: string; resourceId: string; now: Date }): Promise<Reservation> {
    try {
      await this.inserts.insert({
        tenant_id: input.tenantId,
        scope: input.scope,
        key: input.key,
        request_hash: input.requestHash,
        resource_id: input.resourceId,
        created_at: input.now,
      });
      return { reserved: true };
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const existing = await this.keys.findOne({ tenant_id: input.tenantId, scope: input.scope, key: input.key }).lean();
      if (!existing) throw error;
      return { reserved: false, requestHash: existing.request_hash, resourceId: existing.resource_id };
    }
  }

  async deleteCreatedBefore(cutoff: Date): Promise<number> {
    return (await this.keys.deleteMany({ created_at: op({ $lt: cutoff }) })).deletedCount;
  }

  // Only while the key still names `resourceId`: a reservation made since by another request stays.
  async releaseKey(tenantId: string, scope: string, key: string, resourceId: string): Promise<void> {
    await this.keys.deleteOne({ tenant_id: tenantId, scope, key, resource_id: resourceId });
  }
}
