import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

@Schema({ collection: 'notification_subscriptions', versionKey: false })
export class WebhookSubscriptionDoc {
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) url: string;
  @Prop({ type: [String], required: true }) events: string[];
  // Kept readable: every delivery is signed with it. Shown to the caller once, at creation.
  @Prop({ required: true }) secret: string;
  @Prop({ required: true }) active: boolean;
  @Prop({ type: String, default: null }) description: string | null;
  @Prop({ required: true }) created_by: string;
  @Prop({ required: true }) created_at: Date;
  @Prop({ required: true }) updated_at: Date;
}

export type WebhookSubscriptionDocument = HydratedDocument<WebhookSubscriptionDoc>;
export const WebhookSubscriptionSchema = SchemaFactory.createForClass(WebhookSubscriptionDoc);
export const WEBHOOK_SUBSCRIPTION_WRITE_GATE = 'WebhookSubscriptionWriteGate';
// Every event looks up its tenant's active subscriptions.
WebhookSubscriptionSchema.index({ tenant_id: 1, active: 1 });
