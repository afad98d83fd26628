import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { derivedObjectId, insertedUnlessDuplicate, op } from '../common/mongo/mongo-query';
import { ScheduleEventDoc } from './schemas/schedule-event.schema';
import { EventLevel, ScheduleEventRecord } from './schedule.types';

export type NewScheduleEvent = Omit<ScheduleEventRecord, 'id'>;

// The id of the one event a schedule may record under `key` (a call's final outcome, its retry): the
// unique _id makes recording it again a refused insert, so no read is needed to write it once.
function onceId(scheduleId: string, key: string): Types.ObjectId {
  return derivedObjectId(scheduleId, key);
}

@Injectable()
export class ScheduleEventRepository {
  // Every dial records an event on its schedule: a burst's events share one insertMany.
  private readonly inserts: CoalescedInserts<ScheduleEventDoc>;

  constructor(@InjectModel(ScheduleEventDoc.name) private readonly events: Model<ScheduleEventDoc>) {
    this.inserts = new CoalescedInserts(events);
  }

  async append(event: NewScheduleEvent): Promise<void> {
    await this.inserts.insert({ ...event });
  }

  async appendFor(
    schedule: { id: string; tenant_id: string },
    ts: Date,
    level: EventLevel,
    type: string,
    message: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    await this.append({ schedule_id: schedule.id, tenant_id: schedule.tenant_id, ts, level, type, message, data });
  }

  // False when the event under `key` was recorded before (a repeated outcome): nothing is written.
  async appendOnce(
    schedule: { id: string; tenant_id: string },
    key: string,
    ts: Date,
    level: EventLevel,
    type: string,
    message: string,
    data: Record<string, unknown>,
  ): Promise<boolean> {
    const _id = onceId(schedule.id, key);
    return insertedUnlessDuplicate(() => this.inserts.insert({ _id, schedule_id: schedule.id, tenant_id: schedule.tenant_id, ts, level, type, message, data }));
  }

  async wasAppended(scheduleId: string, key: string): Promise<boolean> {
    return (await this.events.exists({ _id: onceId(scheduleId, key) })) !== null;
  }

  async latestFor(scheduleId: string, limit: number): Promise<ScheduleEventRecord[]> {
    const docs = await this.events
      .find({ schedule_id: scheduleId })
      .sort({ ts: -1, _id: -1 })
      .limit(limit)
      .lean<(ScheduleEventDoc & { _id: Types.ObjectId })[]>();
    return docs.map(({ _id, ...rest }) => ({ id: _id.toHexString(), ...(rest as Omit<ScheduleEventRecord, 'id'>) }));
  }

  // Retention: one statement (on the stand-in database one scan, where batches by id would each be one).
  async deleteBefore(cutoff: Date): Promise<number> {
    return (await this.events.deleteMany({ ts: op({ $lt: cutoff }) })).deletedCount;
  }
}
