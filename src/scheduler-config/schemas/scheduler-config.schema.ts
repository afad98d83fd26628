import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

// One document per tenant, keyed by the tenant id.
@Schema({ collection: 'scheduler_configs', versionKey: false })
export class SchedulerConfigDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) enabled: boolean;
  @Prop({ required: true }) daily_call_time: string;
  @Prop({ required: true }) timezone: string;
  @Prop({ required: true }) max_calls_per_day: number;
  @Prop({ required: true }) max_concurrent_calls: number;
  @Prop({ required: true }) retry_failed_after_hours: number;
  @Prop({ required: true }) max_retries_per_contact: number;
  @Prop({ required: true }) skip_if_called_within_days: number;
  @Prop({ type: String, default: null }) cron_schedule: string | null;
  @Prop({ type: Number, default: null }) days_before_due: number | null;
  @Prop({ required: true }) updated_at: Date;
}

export const SchedulerConfigSchema = SchemaFactory.createForClass(SchedulerConfigDoc);
export const SCHEDULER_CONFIG_WRITE_GATE = 'SchedulerConfigWriteGate';

// A contact released by one day's batch run; unique per (contact, day): never scheduled twice a day.
@Schema({ collection: 'daily_batch_entries', versionKey: false })
export class BatchEntryDoc {
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) campaign_id: string;
  @Prop({ required: true }) contact_id: string;
  @Prop({ required: true }) day: string;
  @Prop({ required: true }) created_at: Date;
  @Prop({ type: String, default: 'due_date' }) reason: string;
  @Prop({ type: Date, default: null }) release_at: Date | null;
  @Prop({ type: Number, default: 0 }) priority: number;
  @Prop({ type: String, default: null }) notes: string | null;
  @Prop({ type: Date, default: null }) cancelled_at: Date | null;
}

export const BatchEntrySchema = SchemaFactory.createForClass(BatchEntryDoc);
BatchEntrySchema.index({ contact_id: 1, day: 1 }, { unique: true });
BatchEntrySchema.index({ tenant_id: 1, day: 1 });
BatchEntrySchema.index({ created_at: 1 });

// One of a tenant's max_calls_per_day releases of a day; _id `<tenant>:<day>:<n>`, taken by unique insert,
// so that two batch runs at once (a trigger-now during the daily run, two instances) share the one cap.
@Schema({ collection: 'daily_batch_slots', versionKey: false })
export class BatchSlotDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) day: string;
  @Prop({ required: true }) contact_id: string;
  @Prop({ required: true }) created_at: Date;
}

export const BatchSlotSchema = SchemaFactory.createForClass(BatchSlotDoc);
BatchSlotSchema.index({ tenant_id: 1, day: 1 });
BatchSlotSchema.index({ created_at: 1 });
