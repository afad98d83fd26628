import { Module } from '@nestjs/common';
import { CampaignModule } from '../campaign/campaign.module';
import { SchedulerConfigController } from './scheduler-config.controller';
import { SchedulerConfigService } from './scheduler-config.service';
import { SchedulerConfigStoreModule } from './scheduler-config-store.module';
import { SchedulerJobs } from './scheduler-jobs';

@Module({
  imports: [SchedulerConfigStoreModule, CampaignModule],
  controllers: [SchedulerConfigController],
  providers: [SchedulerConfigService, SchedulerJobs],
  exports: [SchedulerConfigService],
})
export class SchedulerConfigModule {}
