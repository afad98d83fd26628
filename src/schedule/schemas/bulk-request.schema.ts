import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema } from 'mongoose';

// The outcome of one POST /schedule/bulk sent with an Idempotency-Key, kept so that a replay answers
// with the same per-item results.
@Schema({ collection: 'schedule_bulk_requests', versionKey: false })
export class BulkRequestDoc {
  @Prop({ required: true }) tenant_id: string;
  @Prop({ type: [MongooseSchema.Types.Mixed], default: [] }) results: Record<string, unknown>[];
  @Prop({ required: true }) created_at: Date;
}

export type BulkRequestDocument = HydratedDocument<BulkRequestDoc>;
export const BulkRequestSchema = SchemaFactory.createForClass(BulkRequestDoc);
// Retention cleanup, with the idempotency keys (no TTL indexes on FerretDB).
BulkRequestSchema.index({ created_at: 1 });
