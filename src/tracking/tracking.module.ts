import { Module, OnModuleInit } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { CallLogRepository } from './call-log.repository';
import { writeGateFeature } from '../common/mongo/write-gate';
import { CALL_LOG_WRITE_GATE, CallLogDoc, CallLogSchema } from './schemas/call-log.schema';
import { TrackingController } from './tracking.controller';
import { TrackingService } from './tracking.service';

@Module({
  imports: [MongooseModule.forFeature([{ name: CallLogDoc.name, schema: CallLogSchema }, writeGateFeature(CALL_LOG_WRITE_GATE, 'call_log_write_gates')])],
  controllers: [TrackingController],
  providers: [CallLogRepository, TrackingService],
  exports: [CallLogRepository],
})
export class TrackingModule implements OnModuleInit {
  constructor(private readonly callLogs: CallLogRepository) {}

  // The webhook's call_id lookup and the tracking queries need their indexes from the first request on.
  async onModuleInit(): Promise<void> {
    await this.callLogs.ensureIndexes();
  }
}
