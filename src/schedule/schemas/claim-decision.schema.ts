import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

// `redial` is stored under `<claim id>:redial` (see OccurrenceClaimRepository.recordRedial), `outcome`
// under `<claim id>:outcome` (takeOutcome), and a request's ticket after the first under
// `<claim id>:send:<n>`: `send` taken by the dispatcher (takeSendTicket), `fence` by the reconciler
// (fenceSends).
export const CLAIM_DECISIONS = ['dial', 'give_up', 'redial', 'outcome', 'send', 'fence'] as const;
export type ClaimDecision = (typeof CLAIM_DECISIONS)[number];

// Whether a claim's run may dial or was given up. _id is the claim id, so the first insert decides: the
// dispatcher (dial) and the reconciler (give_up) can both see a claim as `claimed`, and FerretDB's
// conditional updates can let both of their state changes succeed; a unique insert cannot.
@Schema({ collection: 'claim_decisions', versionKey: false })
export class ClaimDecisionDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true, enum: CLAIM_DECISIONS }) decision: string;
  @Prop({ required: true }) decided_by: string;
  @Prop({ required: true }) decided_at: Date;
}

export type ClaimDecisionDocument = HydratedDocument<ClaimDecisionDoc>;
export const ClaimDecisionSchema = SchemaFactory.createForClass(ClaimDecisionDoc);
// Retention of send tickets and fences, by age (OccurrenceClaimRepository.deleteSendTicketsBefore).
ClaimDecisionSchema.index({ decision: 1, decided_at: 1 });
