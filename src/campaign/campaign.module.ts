import { Module, OnModuleInit } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { CallingRulesModule } from '../calling-rules/calling-rules.module';
import { DncModule } from '../dnc/dnc.module';
import { ScheduleModule } from '../schedule/schedule.module';
import { SchedulerConfigStoreModule } from '../scheduler-config/scheduler-config-store.module';
import { CampaignAttemptRepository } from './campaign-attempt.repository';
import { CampaignContactRepository } from './campaign-contact.repository';
import { CampaignOutcomeListener } from './campaign-outcome.listener';
import { CampaignRunner } from './campaign-runner.service';
import { CampaignTickJob } from './campaign-tick.job';
import { CampaignController } from './campaign.controller';
import { CampaignRepository } from './campaign.repository';
import { CampaignService } from './campaign.service';
import { ContactImportService } from './contact-import.service';
import { writeGateFeature } from '../common/mongo/write-gate';
import { CAMPAIGN_ATTEMPT_WRITE_GATE, CampaignAttemptDoc, CampaignAttemptSchema, CampaignSlotDoc, CampaignSlotSchema } from './schemas/campaign-attempt.schema';
import { CAMPAIGN_CONTACT_WRITE_GATE, CampaignContactDoc, CampaignContactSchema } from './schemas/campaign-contact.schema';
import { CAMPAIGN_WRITE_GATE, CampaignDoc, CampaignSchema } from './schemas/campaign.schema';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: CampaignDoc.name, schema: CampaignSchema },
      { name: CampaignContactDoc.name, schema: CampaignContactSchema },
      { name: CampaignAttemptDoc.name, schema: CampaignAttemptSchema },
      { name: CampaignSlotDoc.name, schema: CampaignSlotSchema },
      writeGateFeature(CAMPAIGN_WRITE_GATE, 'campaign_write_gates'),
      writeGateFeature(CAMPAIGN_CONTACT_WRITE_GATE, 'campaign_contact_write_gates'),
      writeGateFeature(CAMPAIGN_ATTEMPT_WRITE_GATE, 'campaign_attempt_write_gates'),
    ]),
    ScheduleModule,
    CallingRulesModule,
    DncModule,
    SchedulerConfigStoreModule,
  ],
  controllers: [CampaignController],
  providers: [CampaignRepository, CampaignContactRepository, CampaignAttemptRepository, ContactImportService, CampaignRunner, CampaignService, CampaignTickJob, CampaignOutcomeListener],
  exports: [CampaignRepository, CampaignContactRepository, CampaignAttemptRepository, CampaignRunner],
})
export class CampaignModule implements OnModuleInit {
  constructor(
    private readonly campaigns: CampaignRepository,
    private readonly contacts: CampaignContactRepository,
    private readonly attempts: CampaignAttemptRepository,
  ) {}

  // The unique indexes are the exactly-once and dedupe guarantees: they exist before any work starts.
  async onModuleInit(): Promise<void> {
    await Promise.all([this.campaigns.ensureIndexes(), this.contacts.ensureIndexes(), this.attempts.ensureIndexes()]);
  }
}
