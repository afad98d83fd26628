import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';
import { DNC_SOURCES } from '../dnc.types';

@Schema({ collection: 'dnc_entries', versionKey: false })
export class DncEntryDoc {
  @Prop({ required: true }) tenant_id: string;
  // E.164: every lookup normalises first, so one number has one spelling.
  @Prop({ required: true }) phone: string;
  @Prop({ type: String, default: null }) reason: string | null;
  @Prop({ required: true, enum: DNC_SOURCES }) source: string;
  @Prop({ type: String, default: null }) created_by: string | null;
  @Prop({ required: true }) created_at: Date;
}

export type DncEntryDocument = HydratedDocument<DncEntryDoc>;
export const DncEntrySchema = SchemaFactory.createForClass(DncEntryDoc);
// One entry per number and tenant; a bulk import's duplicates are the inserts this index refuses.
DncEntrySchema.index({ tenant_id: 1, phone: 1 }, { unique: true });
// Listing, newest first.
DncEntrySchema.index({ tenant_id: 1, created_at: -1 });
