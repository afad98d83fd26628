import { Module } from '@nestjs/common';
import { SchedulerConfigModule } from '../scheduler-config/scheduler-config.module';
import { RenewalsCompatController } from './renewals-compat.controller';

// Seed 001 (Celery renewal auto-scheduler) clients' routes; no state of its own.
@Module({
  imports: [SchedulerConfigModule],
  controllers: [RenewalsCompatController],
})
export class RenewalsCompatModule {}
