import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema } from 'mongoose';
import type { CallingWindow } from '../../calling-rules/calling-window';
import { MISFIRE_POLICIES, RetryPolicy, SCHEDULE_STATUSES } from '../schedule.types';

@Schema({ _id: false })
export class RepeatConfigDoc {
  @Prop({ required: true }) enabled: boolean;
  @Prop({ required: true }) frequency: string;
  @Prop({ required: true }) interval: number;
  @Prop({ type: String, default: null }) cron: string | null;
  @Prop({ type: [Number], default: null }) days_of_week: number[] | null;
  @Prop({ type: Date, default: null }) end_date: Date | null;
  @Prop({ type: Number, default: null }) max_occurrences: number | null;
  @Prop({ required: true }) compiled_cron: string;
  @Prop({ type: String, default: null }) interval_unit: string | null;
  @Prop({ required: true }) anchor: Date;
}

@Schema({ collection: 'call_schedules', versionKey: false, minimize: false })
export class CallScheduleDoc {
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) created_by: string;
  @Prop({ type: String, default: null }) user_profile_id: string | null;
  @Prop({ type: String, default: null }) agent_instance_id: string | null;
  @Prop({ required: true }) phone: string;
  @Prop({ required: true }) scheduled_time: Date;
  @Prop({ required: true }) timezone: string;
  @Prop({ required: true, enum: SCHEDULE_STATUSES }) status: string;
  @Prop({ required: true, default: 'outbound' }) call_type: string;
  @Prop({ type: String, default: null }) description: string | null;
  @Prop({ type: String, default: null }) notes: string | null;
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) metadata: Record<string, unknown>;
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) provider_options: Record<string, unknown>;
  @Prop({ type: RepeatConfigDoc, default: null }) repeat_config: RepeatConfigDoc | null;
  @Prop({ required: true, enum: MISFIRE_POLICIES, default: 'skip' }) misfire_policy: string;
  @Prop({ type: MongooseSchema.Types.Mixed, default: null }) retry_policy: RetryPolicy | null;
  @Prop({ type: Boolean, default: true }) respect_calling_hours: boolean;
  @Prop({ type: String, default: null }) callee_timezone: string | null;
  @Prop({ type: MongooseSchema.Types.Mixed, default: null }) calling_window: CallingWindow | null;
  @Prop({ type: String, default: null }) campaign_id: string | null;
  @Prop({ type: String, default: null }) campaign_contact_id: string | null;
  @Prop({ type: Date, default: null }) next_execution: Date | null;
  // next_execution's slot (due-slot.ts), written with it: what the sweeper reads by.
  @Prop({ type: Number, default: null }) due_slot: number | null;
  // Fixed at the insert (due-slot.ts): no index, it only narrows a grouped advance's read on FerretDB.
  @Prop({ type: Number, default: null }) due_shard: number | null;
  @Prop({ required: true, default: 0 }) occurrence_count: number;
  @Prop({ type: String, default: null }) last_call_status: string | null;
  @Prop({ type: String, default: null }) last_error: string | null;
  @Prop({ type: Date, default: null }) last_occurrence_at: Date | null;
  @Prop({ type: String, default: null }) call_id: string | null;
  @Prop({ type: Number, default: null }) duration: number | null;
  // The schedule's Agenda job, addressed by primary key.
  @Prop({ type: String, default: null }) job_id: string | null;
  // Optimistic concurrency: every change bumps it, and the dispatcher only advances the version it read.
  @Prop({ required: true, default: 1 }) version: number;
  @Prop({ type: Date, default: null }) deleted_at: Date | null;
  @Prop({ required: true }) created_at: Date;
  @Prop({ required: true }) last_updated: Date;
}

export type CallScheduleDocument = HydratedDocument<CallScheduleDoc>;
export const CallScheduleSchema = SchemaFactory.createForClass(CallScheduleDoc);
// Tenant listing filtered by status, newest first.
CallScheduleSchema.index({ tenant_id: 1, status: 1, created_at: -1 });
// Tenant lookup by phone number.
CallScheduleSchema.index({ tenant_id: 1, phone: 1 });
// The reconciler's scan for schedules whose due time passed without a dispatch.
CallScheduleSchema.index({ status: 1, next_execution: 1 });
// The sweeper's reads of the schedules due in a slot.
CallScheduleSchema.index({ due_slot: 1 });
// A campaign's schedules.
CallScheduleSchema.index({ campaign_id: 1, status: 1 });

// Gate records of schedule writes (see WriteGate).
export const SCHEDULE_WRITE_GATE = 'ScheduleWriteGate';

// A schedule change whose events are stored before its write (its outbox), from its gate until its write:
// `<schedule id>:<revision>`. A marker left behind names a change whose writer stopped in between, which the
// reconcile pass writes (the events already announce it). `<schedule id>:created`: a create, from before its
// insert until its events and audit entry are stored (after the API's answer); one left behind has them
// stored by the pass. Deleted after the write, so the collection holds only changes in flight or stalled,
// and the pass reads it whole.
@Schema({ collection: 'schedule_outbox_pending', versionKey: false })
export class ScheduleOutboxPendingDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) at: Date;
  // A create's audit entry, stored with its events.
  @Prop({ type: MongooseSchema.Types.Mixed }) audit?: Record<string, unknown>;
}
export const ScheduleOutboxPendingSchema = SchemaFactory.createForClass(ScheduleOutboxPendingDoc);
