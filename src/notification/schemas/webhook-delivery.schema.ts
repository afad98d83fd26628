import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema } from 'mongoose';
import { DELIVERY_STATUSES } from '../notification.types';

@Schema({ collection: 'notification_deliveries', versionKey: false, minimize: false })
export class WebhookDeliveryDoc {
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) subscription_id: string;
  @Prop({ required: true }) event_id: string;
  @Prop({ required: true }) event_type: string;
  @Prop({ required: true }) payload: string;
  @Prop({ required: true, enum: DELIVERY_STATUSES }) status: string;
  @Prop({ required: true }) attempt_count: number;
  @Prop({ type: [MongooseSchema.Types.Mixed], default: [] }) attempts: Record<string, unknown>[];
  @Prop({ type: Date, default: null }) next_attempt_at: Date | null;
  // Epoch when free: a plain `$lt now` claims it, no $or needed.
  @Prop({ required: true }) lease_until: Date;
  @Prop({ type: String, default: null }) job_id: string | null;
  @Prop({ type: String, default: null }) redelivery_of: string | null;
  @Prop({ type: String, default: null }) last_error: string | null;
  @Prop({ type: Date, default: null }) delivered_at: Date | null;
  @Prop({ required: true }) created_at: Date;
  @Prop({ required: true }) updated_at: Date;
}

export type WebhookDeliveryDocument = HydratedDocument<WebhookDeliveryDoc>;
export const WebhookDeliverySchema = SchemaFactory.createForClass(WebhookDeliveryDoc);
// The deliveries listing, filtered by subscription and/or status, newest first.
WebhookDeliverySchema.index({ tenant_id: 1, subscription_id: 1, _id: -1 });
WebhookDeliverySchema.index({ tenant_id: 1, status: 1, _id: -1 });
// Maintenance: open deliveries whose attempt is overdue (a crash lost their timer).
WebhookDeliverySchema.index({ status: 1, next_attempt_at: 1 });
// Retention pruning.
WebhookDeliverySchema.index({ updated_at: 1 });

// Gate records of delivery writes (see WriteGate).
export const WEBHOOK_DELIVERY_WRITE_GATE = 'WebhookDeliveryWriteGate';
