import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { Connection } from 'mongoose';

const ACTIVE_SCHEDULES = 'active_schedules';

// Read-only counts over the schedules' live mirror for the gauges; $group with $sum:1 works on FerretDB.
@Injectable()
export class ScheduleGaugeRepository {
  constructor(@InjectConnection() private readonly connection: Connection) {}

  async countActiveByStatus(): Promise<Array<{ status: string; count: number }>> {
    const rows = await this.connection
      .collection(ACTIVE_SCHEDULES)
      .aggregate<{ _id: string; count: number }>([{ $group: { _id: '$status', count: { $sum: 1 } } }])
      .toArray();
    return rows.map((r) => ({ status: String(r._id), count: r.count }));
  }

  async countOverdue(now: Date): Promise<number> {
    return this.connection.collection(ACTIVE_SCHEDULES).countDocuments({ status: 'scheduled', next_execution: { $ne: null, $lte: now } });
  }
}
