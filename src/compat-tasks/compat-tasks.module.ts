import { Module } from '@nestjs/common';
import { ScheduleModule } from '../schedule/schedule.module';
import { CompatTasksController } from './compat-tasks.controller';
import { CompatTasksService } from './compat-tasks.service';

// Seed 000 (Calleroo scheduler) compatibility: its task API as a thin adapter over schedules.
@Module({
  imports: [ScheduleModule],
  controllers: [CompatTasksController],
  providers: [CompatTasksService],
})
export class CompatTasksModule {}
