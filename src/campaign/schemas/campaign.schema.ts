import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Schema as MongooseSchema } from 'mongoose';
import { CAMPAIGN_STATUSES } from '../campaign.types';

@Schema({ collection: 'campaigns', versionKey: false, minimize: false })
export class CampaignDoc {
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) created_by: string;
  @Prop({ required: true }) name: string;
  @Prop({ required: true }) timezone: string;
  @Prop({ type: MongooseSchema.Types.Mixed, required: true }) calling_window: Record<string, unknown>;
  @Prop({ type: Date, default: null }) start_at: Date | null;
  @Prop({ type: Date, default: null }) end_at: Date | null;
  @Prop({ required: true }) max_attempts: number;
  @Prop({ type: Number, default: null }) max_attempts_per_day: number | null;
  @Prop({ required: true, default: 0 }) min_attempt_gap_minutes: number;
  @Prop({ type: [String], default: [] }) retry_on: string[];
  @Prop({ required: true }) retry_delay: number;
  @Prop({ required: true }) max_concurrent_calls: number;
  @Prop({ type: Number, default: null }) daily_cap: number | null;
  @Prop({ required: true, default: 0 }) priority: number;
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) provider_options: Record<string, unknown>;
  @Prop({ type: Number, default: null }) call_days_before: number | null;
  @Prop({ type: Number, default: null }) batch_size: number | null;
  @Prop({ type: String, default: 'within' }) due_date_match: string;
  @Prop({ type: String, default: null }) required_contact_status: string | null;
  @Prop({ required: true, enum: CAMPAIGN_STATUSES }) status: string;
  @Prop({ type: Date, default: null }) deleted_at: Date | null;
  @Prop({ required: true }) created_at: Date;
  @Prop({ required: true }) updated_at: Date;
}

export const CampaignSchema = SchemaFactory.createForClass(CampaignDoc);
CampaignSchema.index({ tenant_id: 1, created_at: -1 });
CampaignSchema.index({ status: 1, priority: -1 });

// Gate records of writes to this collection (see WriteGate).
export const CAMPAIGN_WRITE_GATE = 'CampaignWriteGate';
