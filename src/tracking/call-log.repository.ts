import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { toObjectId, op } from '../common/mongo/mongo-query';
import { CallStatus, statusesBelow } from './call-status';
import { CallLog, CallTimelineEntry } from './call-log.types';
import { CallLogDoc } from './schemas/call-log.schema';

type LeanLog = CallLogDoc & { _id: Types.ObjectId };

function toLog({ _id, ...rest }: LeanLog): CallLog {
  return { id: _id.toHexString(), ...(rest as unknown as Omit<CallLog, 'id'>) };
}

export type NewCallLog = Omit<CallLog, 'id' | 'timeline' | 'last_updated' | 'call_id' | 'provider' | 'start_time' | 'end_time' | 'duration' | 'answered_by' | 'error_code' | 'error_message'>;

export type CallLogProgress = Partial<Pick<CallLog, 'start_time' | 'end_time' | 'duration' | 'answered_by' | 'error_code' | 'error_message' | 'call_id'>>;

@Injectable()
export class CallLogRepository {
  constructor(@InjectModel(CallLogDoc.name) private readonly logs: Model<CallLogDoc>) {}

  // One log per attempt, written before the provider is called so the attempt is visible at once.
  async createForAttempt(fields: NewCallLog, now: Date): Promise<CallLog> {
    const doc = await this.logs.create({
      ...fields,
      timeline: [{ status: fields.status, ts: now, received_at: now, sequence_number: null, source: 'dispatcher', provider_status: null }],
      last_updated: now,
    });
    return toLog(doc.toObject() as LeanLog);
  }

  async findById(id: string): Promise<CallLog | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.logs.findById(_id).lean<LeanLog>();
    return doc ? toLog(doc) : null;
  }

  async findByCallId(callId: string): Promise<CallLog | null> {
    const doc = await this.logs.findOne({ call_id: callId }).lean<LeanLog>();
    return doc ? toLog(doc) : null;
  }

  async findForSchedule(scheduleId: string): Promise<CallLog[]> {
    const docs = await this.logs.find({ schedule_id: scheduleId }).sort({ attempt_number: 1, timestamp: 1 }).lean<LeanLog[]>();
    return docs.map(toLog);
  }

  async attachProviderCall(id: string, provider: string, callId: string, now: Date): Promise<void> {
    await this.logs.updateOne(
      { _id: new Types.ObjectId(id) },
      {
        $set: { provider, call_id: callId, last_updated: now },
        $push: { timeline: { status: 'queued', ts: now, received_at: now, sequence_number: null, source: 'provider_accepted', provider_status: null } },
      },
    );
  }

  async markAttemptEnded(id: string, status: CallStatus, fields: CallLogProgress & { provider?: string | null }, now: Date): Promise<void> {
    await this.logs.updateOne(
      { _id: new Types.ObjectId(id) },
      {
        $set: { ...fields, status, last_updated: now },
        $push: { timeline: { status, ts: now, received_at: now, sequence_number: null, source: 'dispatcher', provider_status: null } },
      },
    );
  }

  // Appends the event to the timeline and moves the status forward only: returns whether it moved.
  async applyStatusEvent(id: string, entry: CallTimelineEntry, progress: CallLogProgress, now: Date): Promise<boolean> {
    const _id = new Types.ObjectId(id);
    const moved = await this.logs.updateOne(
      { _id, status: op({ $in: statusesBelow(entry.status) }) },
      { $set: { ...progress, status: entry.status, last_updated: now }, $push: { timeline: entry } },
    );
    if (moved.modifiedCount === 1) return true;
    const late: Record<string, unknown> = { last_updated: now };
    // A late event still contributes facts the final one lacked (e.g. start time from in-progress).
    for (const [k, v] of Object.entries(progress)) if (v !== null && v !== undefined && k !== 'end_time') late[k] = v;
    await this.logs.updateOne({ _id }, { $set: late, $push: { timeline: entry } });
    return false;
  }

  async ensureIndexes(): Promise<void> {
    await this.logs.syncIndexes();
  }
}
