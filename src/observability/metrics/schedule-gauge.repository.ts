import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import { LIVE_SCHEDULE_STATUSES } from '../../schedule/schedule.types';

const SCHEDULES = 'call_schedules';

// Read-only counts over live schedules for the gauges (the schedule module owns and writes the
// collection); $group with $sum:1 works on FerretDB.
@Injectable()
export class ScheduleGaugeRepository {
  constructor(@InjectConnection() private readonly connection: Connection) {}

  async countActiveByStatus(): Promise<Array<{ status: string; count: number }>> {
    const rows = await this.connection
      .collection(SCHEDULES)
      .aggregate<{ _id: string; count: number }>([{ $match: { deleted_at: null, status: { $in: [...LIVE_SCHEDULE_STATUSES] } } }, { $group: { _id: '$status', count: { $sum: 1 } } }])
      .toArray();
    return rows.map((r) => ({ status: String(r._id), count: r.count }));
  }

  async countOverdue(now: Date): Promise<number> {
    return this.connection.collection(SCHEDULES).countDocuments({ status: 'scheduled', deleted_at: null, next_execution: { $ne: null, $lte: now } });
  }
}
