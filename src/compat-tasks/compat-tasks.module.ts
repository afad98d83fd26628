import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { ScheduleModule } from '../schedule/schedule.module';
import { CompatTasksController } from './compat-tasks.controller';
import { CompatTasksService } from './compat-tasks.service';
import { TasksAuthGuard } from './tasks-auth.guard';

// Seed 000 (Calleroo scheduler) compatibility: its task API as a thin adapter over schedules.
@Module({
  imports: [AuthModule, ScheduleModule],
  controllers: [CompatTasksController],
  providers: [CompatTasksService, TasksAuthGuard],
})
export class CompatTasksModule {}
