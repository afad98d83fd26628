import { Module, OnModuleInit } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { ScheduleModule } from '../schedule/schedule.module';
import { TrackingModule } from '../tracking/tracking.module';
import { CallStatusReceiptRepository } from './call-status-receipt.repository';
import { CallStatusReceiptDoc, CallStatusReceiptSchema } from './schemas/call-status-receipt.schema';
import { StatusUpdateController } from './status-update.controller';
import { StatusUpdateService } from './status-update.service';
import { TwilioSignatureGuard } from './twilio-signature.guard';

@Module({
  imports: [MongooseModule.forFeature([{ name: CallStatusReceiptDoc.name, schema: CallStatusReceiptSchema }]), TrackingModule, ScheduleModule],
  controllers: [StatusUpdateController],
  providers: [StatusUpdateService, CallStatusReceiptRepository, TwilioSignatureGuard],
})
export class StatusUpdateModule implements OnModuleInit {
  constructor(private readonly receipts: CallStatusReceiptRepository) {}

  async onModuleInit(): Promise<void> {
    await this.receipts.ensureIndexes();
  }
}
