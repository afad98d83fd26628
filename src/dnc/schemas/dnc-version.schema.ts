import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

// One per tenant: a value that changes (to a new, never reused one) after every change to the tenant's
// do-not-call list. An instance that holds the list in memory reads it before it trusts that copy
// (DncListCache). Last writer wins, which is enough: any change leaves a value no copy was made under.
@Schema({ collection: 'dnc_versions', versionKey: false })
export class DncVersionDoc {
  // The tenant id.
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) version: string;
}

export type DncVersionDocument = HydratedDocument<DncVersionDoc>;
export const DncVersionSchema = SchemaFactory.createForClass(DncVersionDoc);
