import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

@Schema({ collection: 'active_schedules', versionKey: false })
export class ActiveScheduleDoc {
  @Prop({ required: true }) schedule_id: string;
  @Prop({ required: true }) tenant_id: string;
  // Copied from the schedule so that a token scoped to agent instances lists only theirs.
  @Prop({ type: String, default: null }) agent_instance_id: string | null;
  @Prop({ type: String, default: null }) job_id: string | null;
  @Prop({ type: Date, default: null }) next_execution: Date | null;
  @Prop({ required: true }) status: string;
  @Prop({ required: true }) created_at: Date;
  @Prop({ required: true }) last_updated: Date;
}

export type ActiveScheduleDocument = HydratedDocument<ActiveScheduleDoc>;
export const ActiveScheduleSchema = SchemaFactory.createForClass(ActiveScheduleDoc);
// One mirror record per schedule. Its _id is the schedule's own ObjectId, so upserts hit the primary key
// (FerretDB pushes _id lookups down to storage; other filters scan); this index is for lookups by field.
ActiveScheduleSchema.index({ schedule_id: 1 }, { unique: true });
// GET /schedule/active: a tenant's live schedules in due order.
ActiveScheduleSchema.index({ tenant_id: 1, next_execution: 1 });
