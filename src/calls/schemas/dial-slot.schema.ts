import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'dial_slots', versionKey: false })
export class DialSlotDoc {
  // `${pacing key}:${slot number}`: the primary key is what makes a slot go to exactly one dial,
  // across every instance, without relying on findAndModify (not atomic on FerretDB).
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) key: string;
  @Prop({ required: true }) slot: number;
  @Prop({ required: true }) at: Date;
  @Prop({ required: true }) holder: string;
}

export const DialSlotSchema = SchemaFactory.createForClass(DialSlotDoc);
// Where an instance that lost a slot skips to: the newest slot taken for its key.
DialSlotSchema.index({ key: 1, at: -1 });
// Pruning of spent slots (no TTL indexes on FerretDB).
DialSlotSchema.index({ at: 1 });
