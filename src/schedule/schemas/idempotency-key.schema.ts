import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

@Schema({ collection: 'idempotency_keys', versionKey: false })
export class IdempotencyKeyDoc {
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) key: string;
  @Prop({ required: true }) scope: string;
  @Prop({ required: true }) request_hash: string;
  @Prop({ required: true }) resource_id: string;
  @Prop({ required: true }) created_at: Date;
}

export type IdempotencyKeyDocument = HydratedDocument<IdempotencyKeyDoc>;
export const IdempotencyKeySchema = SchemaFactory.createForClass(IdempotencyKeyDoc);
// A retried POST with the same key finds the first request's record instead of creating a second schedule.
IdempotencyKeySchema.index({ tenant_id: 1, scope: 1, key: 1 }, { unique: true });
// Retention cleanup (no TTL indexes on FerretDB).
IdempotencyKeySchema.index({ created_at: 1 });
