import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema, Types } from 'mongoose';

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

// The key of an event that must be stored at most once (a call's final status): the unique _id decides
// which try stores it, and event_id lets a repeat find it, or store it under the same id if the try that
// won the key stopped before the event itself. Pruned by age with the events.
@Schema({ collection: 'notification_event_keys', versionKey: false })
export class NotificationEventKeyDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ type: MongooseSchema.Types.ObjectId, required: true }) event_id: Types.ObjectId;
  @Prop({ required: true }) at: Date;
}
export const NotificationEventKeySchema = SchemaFactory.createForClass(NotificationEventKeyDoc);
// Age pruning.
NotificationEventKeySchema.index({ at: 1 });

// A stored event that durable in-process consumers (seat release, campaign progress, agent hand-off) still
// owe work, from its store until every consumer that wants it has run. `_id` is the stored event's id. One
// left behind (a process that stopped between the store and the consumers) is run by the relay pass. Deleted
// once handled, so the collection holds only events in flight or stranded, and the pass reads it whole.
@Schema({ collection: 'notification_relay_pending', versionKey: false, minimize: false })
export class EventRelayPendingDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) at: Date;
  @Prop({ required: true }) type: string;
  // The event's envelope data, and what it says of its campaign in process only (not in the envelope).
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) data: Record<string, unknown>;
  @Prop({ type: String, default: null }) campaign_id: string | null;
  // A call event's: whether its call is a campaign attempt's (null: unknown).
  @Prop({ type: Boolean, default: null }) for_campaign: boolean | null;
  // The relay pass's failed runs so far, and when it tries again (backing off; it gives up after a few).
  @Prop({ type: Number, default: 0 }) attempts: number;
  @Prop({ type: Date, default: null }) next_at: Date | null;
}
export const EventRelayPendingSchema = SchemaFactory.createForClass(EventRelayPendingDoc);
