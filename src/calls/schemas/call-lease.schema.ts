import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'call_leases', versionKey: false })
export class CallLeaseDoc {
  // `${pacing key}:${seat}` for seats 0..MAX_CONCURRENT_CALLS-1: a unique seat per in-flight call.
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) key: string;
  @Prop({ required: true }) call_log_id: string;
  @Prop({ required: true }) acquired_at: Date;
  // A call whose final status never arrives gives its seat back at this time.
  @Prop({ required: true }) expires_at: Date;
}

export const CallLeaseSchema = SchemaFactory.createForClass(CallLeaseDoc);
// Release by call log when its final status arrives.
CallLeaseSchema.index({ call_log_id: 1 });
