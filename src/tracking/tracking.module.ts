import { Module, OnModuleInit } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { CallLogRepository } from './call-log.repository';
import { writeGateFeature } from '../common/mongo/write-gate';
import {
  CALL_LOG_ARCHIVE,
  CALL_LOG_ARCHIVE_WRITE_GATE,
  CALL_LOG_WRITE_GATE,
  CallLogArchiveSchema,
  CallLogArchiveStateDoc,
  CallLogArchiveStateSchema,
  CallLogDoc,
  CallLogSchema,
  PlacedCallDoc,
  PlacedCallSchema,
} from './schemas/call-log.schema';
import { CallLogArchiveJob } from './call-log-archive.job';
import {
  CALL_STATS_DAY_WRITE_GATE,
  CallStatChangeDoc,
  CallStatChangeSchema,
  CallStatsDayDoc,
  CallStatsDaySchema,
  CallStatsStateDoc,
  CallStatsStateSchema,
} from './schemas/call-stats.schema';
import { CallStatsFoldJob } from './call-stats-fold.job';
import { CallStatsRepository } from './call-stats.repository';
import { TrackingController } from './tracking.controller';
import { TrackingService } from './tracking.service';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: CallLogDoc.name, schema: CallLogSchema },
      writeGateFeature(CALL_LOG_WRITE_GATE, 'call_log_write_gates'),
      { name: CALL_LOG_ARCHIVE, schema: CallLogArchiveSchema, collection: 'call_logs_archive' },
      writeGateFeature(CALL_LOG_ARCHIVE_WRITE_GATE, 'call_logs_archive_write_gates'),
      { name: CallLogArchiveStateDoc.name, schema: CallLogArchiveStateSchema },
      { name: PlacedCallDoc.name, schema: PlacedCallSchema },
      { name: CallStatChangeDoc.name, schema: CallStatChangeSchema },
      { name: CallStatsDayDoc.name, schema: CallStatsDaySchema },
      { name: CallStatsStateDoc.name, schema: CallStatsStateSchema },
      writeGateFeature(CALL_STATS_DAY_WRITE_GATE, 'call_stats_daily_write_gates'),
    ]),
  ],
  controllers: [TrackingController],
  providers: [CallLogRepository, CallStatsRepository, CallStatsFoldJob, CallLogArchiveJob, TrackingService],
  exports: [CallLogRepository],
})
export class TrackingModule implements OnModuleInit {
  constructor(
    private readonly callLogs: CallLogRepository,
    private readonly stats: CallStatsRepository,
  ) {}

  // The webhook's call_id lookup and the tracking queries need their indexes from the first request on.
  async onModuleInit(): Promise<void> {
    await Promise.all([this.callLogs.ensureIndexes(), this.stats.ensureIndexes()]);
  }
}
