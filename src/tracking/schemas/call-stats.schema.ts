import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Schema as MongooseSchema } from 'mongoose';
import type { StatsSums } from '../call-stats';

// StatsSums (call-stats.ts), as a change holds them.
class StatsSumsFields {
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) counts: Record<string, number>;
  @Prop({ required: true, default: 0 }) total_duration: number;
  @Prop({ required: true, default: 0 }) completed_duration: number;
  @Prop({ required: true, default: 0 }) completed_with_duration: number;
}

// One change of one call log as it counts in the stats (see CallStatsRepository): `_id` is
// `<log id>:<revision>` (`<log id>:c` for the insert), so a repeated write of the same change is refused by
// the unique _id instead of counting twice. `at` is when it was stored; folding takes it into its hour.
@Schema({ collection: 'call_stat_changes', versionKey: false, minimize: false })
export class CallStatChangeDoc extends StatsSumsFields {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) tenant_id: string;
  // The UTC hour of the log's timestamp: the bucket it counts in.
  @Prop({ required: true }) hour: Date;
  @Prop({ required: true }) at: Date;
}
export const CallStatChangeSchema = SchemaFactory.createForClass(CallStatChangeDoc);
// The stats read takes a tenant's unfolded changes (a small collection: folding empties it).
CallStatChangeSchema.index({ tenant_id: 1 });

// A tenant's calls of one UTC day, summed per hour: `_id` is `<tenant>|<YYYY-MM-DD>`, `hours_json` maps
// the hour ("00".."23") to its sums, as JSON text. One document per day, not per hour: a stats read over 30
// days reads 30 small documents. Text, not a nested document: FerretDB decodes each nested value on every
// read, and 31 days of nested sums took 50-70 ms to read against 8 ms as text (nothing queries inside the
// sums). `hours`, the nested form of days folded before 2026-12-05, is read until the next fold rewrites
// the day. Changes stored at or before `folded_until` are in the sums; later ones are still in
// call_stat_changes.
@Schema({ collection: 'call_stats_daily', versionKey: false, minimize: false })
export class CallStatsDayDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) day: Date;
  @Prop({ type: String, default: null }) hours_json: string | null;
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) hours: Record<string, StatsSums>;
  @Prop({ required: true }) folded_until: Date;
  @Prop({ type: Number, default: 0 }) rev: number;
}
export const CallStatsDaySchema = SchemaFactory.createForClass(CallStatsDayDoc);
// The stats read: a tenant's days in a range.
CallStatsDaySchema.index({ tenant_id: 1, day: 1 });

// Gate records of the daily documents' writes (see WriteGate).
export const CALL_STATS_DAY_WRITE_GATE = 'CallStatsDayWriteGate';

// `backfilled`: whether every call log stored before the hourly sums existed has been counted into them.
// `days|<tenant>`: the version of the tenant's daily documents (`token`), changed by every fold that
// writes one of them, before it deletes the changes it folded: a process may keep the days it read under
// the version it read them at.
@Schema({ collection: 'call_stats_state', versionKey: false })
export class CallStatsStateDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) at: Date;
  @Prop({ type: String }) token?: string;
}
export const CallStatsStateSchema = SchemaFactory.createForClass(CallStatsStateDoc);
