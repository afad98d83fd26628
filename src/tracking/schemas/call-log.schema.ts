import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema, Types } from 'mongoose';
import { CALL_STATUSES } from '../call-status';

@Schema({ _id: false })
export class CallTimelineEntryDoc {
  @Prop({ required: true }) status: string;
  @Prop({ required: true }) ts: Date;
  @Prop({ required: true }) received_at: Date;
  @Prop({ type: Number, default: null }) sequence_number: number | null;
  @Prop({ required: true }) source: string;
  @Prop({ type: String, default: null }) provider_status: string | null;
}

@Schema({ collection: 'call_logs', versionKey: false, minimize: false })
export class CallLogDoc {
  @Prop({ required: true }) tenant_id: string;
  @Prop({ required: true }) created_by: string;
  @Prop({ type: String, default: null }) user_profile_id: string | null;
  @Prop({ type: String, default: null }) agent_instance_id: string | null;
  @Prop({ type: String, default: null }) schedule_id: string | null;
  @Prop({ type: Date, default: null }) occurrence_at: Date | null;
  @Prop({ type: String, default: null }) call_id: string | null;
  @Prop({ type: String, default: null }) provider: string | null;
  @Prop({ required: true, enum: CALL_STATUSES }) status: string;
  @Prop({ required: true, default: 'outbound' }) call_type: string;
  @Prop({ required: true }) phone: string;
  @Prop({ required: true }) timestamp: Date;
  @Prop({ type: Date, default: null }) start_time: Date | null;
  @Prop({ type: Date, default: null }) end_time: Date | null;
  @Prop({ type: Number, default: null }) duration: number | null;
  @Prop({ type: String, default: null }) notes: string | null;
  @Prop({ type: MongooseSchema.Types.Mixed, default: {} }) metadata: Record<string, unknown>;
  @Prop({ required: true, default: 1 }) attempt_number: number;
  @Prop({ type: String, default: null }) answered_by: string | null;
  @Prop({ type: String, default: null }) error_code: string | null;
  @Prop({ type: String, default: null }) error_message: string | null;
  @Prop({ type: [CallTimelineEntryDoc], default: [] }) timeline: CallTimelineEntryDoc[];
  @Prop({ required: true }) last_updated: Date;
  @Prop({ type: Date, default: null }) outcome_recorded_at: Date | null;
  // Whether its schedule is a campaign attempt's, as its events say in process (null on logs stored
  // before it existed: unknown). Not shown by the API.
  @Prop({ type: Boolean, default: null }) for_campaign: boolean | null;
  // Counted in the hourly stats (see CallStatsRepository); false only on logs stored before they existed.
  @Prop({ type: Boolean, default: false }) in_stats: boolean;
  // The UTC hour of `timestamp`, set with in_stats: the listing reads a tenant's logs hour by hour.
  @Prop({ type: Date, default: null }) hour: Date | null;
  // When the archive pass copied it (archived copies only; see CallLogRepository.archiveSettled).
  @Prop({ type: Date }) archived_at?: Date;
}

// Gate records of call log writes (see WriteGate).
export const CALL_LOG_WRITE_GATE = 'CallLogWriteGate';

// The archive of settled logs (see CallLogRepository.archiveSettled): the same documents in their own
// collection, and the gate records of their writes.
export const CALL_LOG_ARCHIVE = 'CallLogArchive';
export const CALL_LOG_ARCHIVE_WRITE_GATE = 'CallLogArchiveWriteGate';

// The newest cutoff any archive pass has moved logs under (see CallLogRepository.recordArchiveCutoff).
@Schema({ collection: 'call_logs_archive_state', versionKey: false })
export class CallLogArchiveStateDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ required: true }) newest_cutoff: Date;
}
export const CallLogArchiveStateSchema = SchemaFactory.createForClass(CallLogArchiveStateDoc);

// A call a provider accepted for a log, stored by insert when the dial returns
// (CallLogRepository.recordPlacedCall). The log takes its call id, provider and acceptance with its next
// write; until then every read of the log fills them in from here. On the stand-in database an update of the
// log is a scan of call_logs, while an insert costs the same at any size.
@Schema({ collection: 'call_log_placed_calls', versionKey: false })
export class PlacedCallDoc {
  // The log's id.
  @Prop({ type: MongooseSchema.Types.ObjectId, required: true }) _id: Types.ObjectId;
  @Prop({ required: true }) call_id: string;
  @Prop({ required: true }) provider: string;
  @Prop({ required: true }) at: Date;
  // The log's `hour`: a page of logs fills in its placed calls hour by hour, an equality the stand-in
  // database filters on before its own code sees a row.
  @Prop({ type: Date, required: true }) hour: Date;
}
export const PlacedCallSchema = SchemaFactory.createForClass(PlacedCallDoc);
// A callback or lookup that names only the call finds its log.
PlacedCallSchema.index({ call_id: 1 });
// The prune of records older than any log still waits for.
PlacedCallSchema.index({ at: 1 });
PlacedCallSchema.index({ hour: 1, _id: 1 });

export type CallLogDocument = HydratedDocument<CallLogDoc>;

// What reads a log wherever it is: both collections carry these.
function withReadIndexes(schema: MongooseSchema): MongooseSchema {
  // Webhook lookup by the provider's call id. Not unique: the id is null until the provider answers,
  // and partial/sparse indexes are not available on every supported engine.
  schema.index({ call_id: 1 });
  // Tracking queries: a tenant's logs newest first (_id breaks timestamp ties so offset paging is stable),
  // optionally by status, user profile or phone; the tracking API's filters map onto these prefixes.
  schema.index({ tenant_id: 1, timestamp: -1, _id: -1 });
  schema.index({ tenant_id: 1, status: 1, timestamp: -1 });
  schema.index({ tenant_id: 1, user_profile_id: 1, timestamp: -1 });
  schema.index({ tenant_id: 1, phone: 1, timestamp: -1 });
  // Admins' cross-tenant view, newest first.
  schema.index({ timestamp: -1, _id: -1 });
  // A schedule's attempts in order.
  schema.index({ schedule_id: 1, attempt_number: 1 });
  return schema;
}

export const CallLogSchema = withReadIndexes(SchemaFactory.createForClass(CallLogDoc));
// The periodic reconcile's scan for accepted calls that never reached a final status.
CallLogSchema.index({ status: 1, last_updated: 1 });
// The stats catch-up's scan for logs not counted in the hourly stats yet (see CallStatsFoldJob).
CallLogSchema.index({ in_stats: 1 });
// The outcome sweep's scan for final calls whose schedule outcome was never recorded, and the archive's
// for settled ones.
CallLogSchema.index({ status: 1, outcome_recorded_at: 1, last_updated: 1 });

export const CallLogArchiveSchema = withReadIndexes(SchemaFactory.createForClass(CallLogDoc));
