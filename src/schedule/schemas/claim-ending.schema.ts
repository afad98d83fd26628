import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

// How a claim's run ended when it placed no call (refused, start window passed, unknown, skipped,
// deferred), stored under the claim's id before the claim moves, and deleted once the run has written
// the rest: the log, the schedule, the history entry and the call event. A run that stops after the move
// leaves it here, and the schedule.reconcile pass finishes it (OccurrenceDispatchService.finishStoppedEndings).
// So the collection holds only endings in progress or stopped, and the pass reads it whole.
@Schema({ collection: 'claim_endings', versionKey: false })
export class ClaimEndingDoc {
  @Prop({ type: String, required: true }) _id: string;
  // The claim transition the run makes (one of CLAIM_TRANSITIONS).
  @Prop({ required: true }) transition: string;
  @Prop({ required: true }) schedule_id: string;
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) phone: string;
  @Prop({ type: String, default: null }) call_log_id: string | null;
  @Prop({ required: true }) occurrence_at: Date;
  @Prop({ required: true }) attempt_number: number;
  @Prop({ required: true }) at: Date;
  // The instance whose run it is: a run that took the outcome after the reconciler moved its claim
  // (takeOutcome) is told by this.
  @Prop({ required: true }) by: string;
  @Prop({ type: String, default: null }) provider: string | null;
  // The provider's error code (refused), or the rule that forbade the dial (skipped).
  @Prop({ type: String, default: null }) code: string | null;
  // May be empty: a provider's refusal can come without a message.
  @Prop({ type: String, default: '' }) detail: string;
  // What a deferral records besides: its deferral number, until when, and where it was found.
  @Prop({ type: Object, default: null }) extra: Record<string, unknown> | null;
}

export type ClaimEndingDocument = HydratedDocument<ClaimEndingDoc>;
export const ClaimEndingSchema = SchemaFactory.createForClass(ClaimEndingDoc);
