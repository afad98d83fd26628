import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema } from 'mongoose';
import { EVENT_LEVELS } from '../schedule.types';

// Append-only: the repository exposes no update or delete for events except retention cleanup.
@Schema({ collection: 'schedule_events', versionKey: false, minimize: false })
export class ScheduleEventDoc {
  @Prop({ required: true }) schedule_id: string;
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) ts: Date;
  @Prop({ required: true, enum: EVENT_LEVELS }) level: string;
  @Prop({ required: true }) type: string;
  @Prop({ required: true }) message: string;
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) data: Record<string, unknown>;
}

export type ScheduleEventDocument = HydratedDocument<ScheduleEventDoc>;
export const ScheduleEventSchema = SchemaFactory.createForClass(ScheduleEventDoc);
// A schedule's latest events, newest first.
ScheduleEventSchema.index({ schedule_id: 1, ts: -1 });
// Retention cleanup (no TTL indexes on FerretDB).
ScheduleEventSchema.index({ ts: 1 });
