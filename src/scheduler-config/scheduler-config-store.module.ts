import { Module, OnModuleInit } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { writeGateFeature } from '../common/mongo/write-gate';
import {
  BatchEntryDoc,
  BatchEntrySchema,
  BatchSlotDoc,
  BatchSlotSchema,
  SCHEDULER_CONFIG_WRITE_GATE,
  SchedulerConfigDoc,
  SchedulerConfigSchema,
} from './schemas/scheduler-config.schema';
import { SchedulerConfigRepository } from './scheduler-config.repository';
import { DailyRunSchedule } from './daily-run.schedule';

// The settings alone, without the daily run: campaigns read the tenant's batch limits from here, and the
// scheduler-config module (which drives campaigns) builds on it, so neither imports the other in a cycle.
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: SchedulerConfigDoc.name, schema: SchedulerConfigSchema },
      { name: BatchEntryDoc.name, schema: BatchEntrySchema },
      { name: BatchSlotDoc.name, schema: BatchSlotSchema },
      writeGateFeature(SCHEDULER_CONFIG_WRITE_GATE, 'scheduler_config_write_gates'),
    ]),
  ],
  providers: [SchedulerConfigRepository, DailyRunSchedule],
  exports: [SchedulerConfigRepository, DailyRunSchedule],
})
export class SchedulerConfigStoreModule implements OnModuleInit {
  constructor(private readonly repository: SchedulerConfigRepository) {}

  async onModuleInit(): Promise<void> {
    await this.repository.ensureIndexes();
  }
}
