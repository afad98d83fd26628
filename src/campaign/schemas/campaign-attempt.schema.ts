import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { ATTEMPT_STATES } from '../campaign.types';

@Schema({ collection: 'campaign_attempts', versionKey: false })
export class CampaignAttemptDoc {
  @Prop({ required: true }) campaign_id: string;
  @Prop({ required: true }) contact_id: string;
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) attempt_number: number;
  @Prop({ required: true }) dial_number: number;
  @Prop({ required: true }) schedule_id: string;
  @Prop({ required: true, enum: ATTEMPT_STATES }) state: string;
  @Prop({ type: String, default: null }) outcome: string | null;
  // The provider's id of the attempt's call (null when none was placed) and the code a failed dial ended with.
  @Prop({ type: String, default: null }) call_id: string | null;
  @Prop({ type: String, default: null }) error_code: string | null;
  // Campaign-local day the attempt counts against the daily cap.
  @Prop({ required: true }) day: string;
  @Prop({ required: true }) created_at: Date;
  @Prop({ type: Date, default: null }) settled_at: Date | null;
}

export const CampaignAttemptSchema = SchemaFactory.createForClass(CampaignAttemptDoc);
// Exactly once per attempt: whichever instance inserts (campaign, contact, attempt) owns that dial.
CampaignAttemptSchema.index({ campaign_id: 1, contact_id: 1, attempt_number: 1 }, { unique: true });
CampaignAttemptSchema.index({ campaign_id: 1, state: 1 });
CampaignAttemptSchema.index({ campaign_id: 1, day: 1 });
// The attempts API lists a campaign's attempts newest first.
CampaignAttemptSchema.index({ campaign_id: 1, created_at: -1 });

// Seats (max_concurrent_calls) and daily-cap slots, each a unique key taken by one attempt.
@Schema({ collection: 'campaign_slots', versionKey: false })
export class CampaignSlotDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) campaign_id: string;
  @Prop({ required: true }) kind: string;
  @Prop({ required: true }) attempt_key: string;
  @Prop({ required: true }) created_at: Date;
}

export const CampaignSlotSchema = SchemaFactory.createForClass(CampaignSlotDoc);
CampaignSlotSchema.index({ campaign_id: 1, kind: 1 });
CampaignSlotSchema.index({ attempt_key: 1 });

// Gate records of writes to this collection (see WriteGate).
export const CAMPAIGN_ATTEMPT_WRITE_GATE = 'CampaignAttemptWriteGate';
