import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';
import { CLAIM_STATES } from '../schedule.types';

@Schema({ collection: 'occurrence_claims', versionKey: false })
export class OccurrenceClaimDoc {
  @Prop({ required: true }) schedule_id: string;
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) occurrence_at: Date;
  // 1 for the scheduled dial; outcome retries (retry_policy) claim attempts 2, 3, ... of the same occurrence.
  @Prop({ required: true, default: 1 }) attempt_number: number;
  // 0 for the attempt's first run; a run deferred to the callee's calling hours claims deferral n+1.
  @Prop({ required: true, default: 0 }) deferral: number;
  @Prop({ required: true, enum: CLAIM_STATES }) state: string;
  @Prop({ required: true }) claimed_by: string;
  @Prop({ required: true }) claimed_at: Date;
  // Unique per run: a run whose insert was applied but whose reply was lost recognises its own claim.
  @Prop({ type: String, default: null }) run_id: string | null;
  @Prop({ type: String, default: null }) call_log_id: string | null;
  @Prop({ type: String, default: null }) call_id: string | null;
  @Prop({ type: String, default: null }) provider: string | null;
  @Prop({ type: String, default: null }) detail: string | null;
  // The last of CLAIM_TRANSITIONS applied to it: a retried move tells its own earlier write by it.
  @Prop({ type: String, default: null }) transition: string | null;
  @Prop({ required: true }) updated_at: Date;
}

export type OccurrenceClaimDocument = HydratedDocument<OccurrenceClaimDoc>;
export const OccurrenceClaimSchema = SchemaFactory.createForClass(OccurrenceClaimDoc);
// Exactly-once dispatch: the insert of (schedule, occurrence) is the lock. FerretDB's findAndModify is
// not atomic, so Agenda's job lock can let two instances run one job; only one of them wins this insert.
// A deferred run claims (schedule, occurrence, attempt, deferral n+1): dialed once at the opening, however many
// instances run its job. Claims stored before deferrals existed have no field and count as deferral 0.
OccurrenceClaimSchema.index({ schedule_id: 1, occurrence_at: 1, attempt_number: 1, deferral: 1 }, { unique: true });
// In-flight count per schedule (SCHEDULER_MAX_INSTANCES) and the latest claims of a schedule.
OccurrenceClaimSchema.index({ schedule_id: 1, state: 1 });
// The reconciler's scan for claims stuck between claim and dial after a crash.
OccurrenceClaimSchema.index({ state: 1, claimed_at: 1 });

// Gate records of claim state changes (see WriteGate).
export const OCCURRENCE_CLAIM_WRITE_GATE = 'OccurrenceClaimWriteGate';
