import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema } from 'mongoose';

// Bounded history behind SSE resume: pruned by count per tenant and by age (no TTL indexes on FerretDB).
@Schema({ collection: 'notification_events', versionKey: false, minimize: false })
export class NotificationEventDoc {
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) type: string;
  @Prop({ required: true }) created_at: Date;
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) data: Record<string, unknown>;
}

export type NotificationEventDocument = HydratedDocument<NotificationEventDoc>;
export const NotificationEventSchema = SchemaFactory.createForClass(NotificationEventDoc);
// Resume: a tenant's events after a Last-Event-ID, in id order; also the per-tenant count cap.
NotificationEventSchema.index({ tenant_id: 1, _id: 1 });
// Age pruning.
NotificationEventSchema.index({ created_at: 1 });
