import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

// Append-only: the repository inserts, reads and deletes past the retention window; nothing updates.
@Schema({ collection: 'audit_entries', versionKey: false })
export class AuditEntryDoc {
  @Prop({ required: true }) at: Date;
  @Prop({ required: true }) actor: string;
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) action: string;
  @Prop({ required: true }) method: string;
  @Prop({ required: true }) route: string;
  @Prop({ type: String, default: null }) target_id: string | null;
  @Prop({ type: String, default: null }) request_id: string | null;
  @Prop({ type: String, default: null }) token_fingerprint: string | null;
  @Prop({ required: true }) outcome: string;
  @Prop({ required: true }) status_code: number;
  @Prop({ type: String, default: null }) error_code: string | null;
}

export type AuditEntryDocument = HydratedDocument<AuditEntryDoc>;
export const AuditEntrySchema = SchemaFactory.createForClass(AuditEntryDoc);
AuditEntrySchema.index({ at: -1 });
AuditEntrySchema.index({ actor: 1, at: -1 });
AuditEntrySchema.index({ target_id: 1, at: -1 });
