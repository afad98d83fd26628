import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

@Schema({ collection: 'call_status_receipts', versionKey: false })
export class CallStatusReceiptDoc {
  @Prop({ required: true }) call_sid: string;
  @Prop({ required: true }) dedupe_key: string;
  @Prop({ required: true }) received_at: Date;
}

export const CallStatusReceiptSchema = SchemaFactory.createForClass(CallStatusReceiptDoc);
export type CallStatusReceiptDocument = HydratedDocument<CallStatusReceiptDoc>;
// Twilio may deliver a callback more than once: the first insert of (CallSid, SequenceNumber) wins,
// and a duplicate has no side effect.
CallStatusReceiptSchema.index({ call_sid: 1, dedupe_key: 1 }, { unique: true });
// Retention cleanup.
CallStatusReceiptSchema.index({ received_at: 1 });
