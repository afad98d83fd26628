import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Schema as MongooseSchema } from 'mongoose';
import { CONTACT_STATUSES } from '../campaign.types';

@Schema({ collection: 'campaign_contacts', versionKey: false, minimize: false })
export class CampaignContactDoc {
  @Prop({ required: true }) campaign_id: string;
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) phone: string;
  @Prop({ type: String, default: null }) name: string | null;
  @Prop({ type: String, default: null }) timezone: string | null;
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) variables: Record<string, unknown>;
  @Prop({ type: String, default: null }) due_date: string | null;
  @Prop({ type: String, default: null }) contact_status: string | null;
  @Prop({ required: true, enum: CONTACT_STATUSES }) status: string;
  @Prop({ required: true, default: 0 }) attempts: number;
  @Prop({ required: true, default: 0 }) attempt_seq: number;
  @Prop({ type: String, default: null }) current_attempt_id: string | null;
  @Prop({ type: Date, default: null }) last_attempt_at: Date | null;
  @Prop({ type: String, default: null }) last_outcome: string | null;
  @Prop({ type: Date, default: null }) next_attempt_at: Date | null;
  @Prop({ type: String, default: null }) day_key: string | null;
  @Prop({ required: true, default: 0 }) day_attempts: number;
  @Prop({ required: true }) created_at: Date;
  @Prop({ required: true }) updated_at: Date;
}

export const CampaignContactSchema = SchemaFactory.createForClass(CampaignContactDoc);
// Import deduplication: one contact per phone per campaign, enforced by the insert itself.
CampaignContactSchema.index({ campaign_id: 1, phone: 1 }, { unique: true });
// Selection and listing by state.
CampaignContactSchema.index({ campaign_id: 1, status: 1, next_attempt_at: 1 });

// Gate records of writes to this collection (see WriteGate).
export const CAMPAIGN_CONTACT_WRITE_GATE = 'CampaignContactWriteGate';
