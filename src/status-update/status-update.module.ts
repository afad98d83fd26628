import { Module, OnModuleInit } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { CallsModule } from '../calls/calls.module';
import { ScheduleModule } from '../schedule/schedule.module';
import { TrackingModule } from '../tracking/tracking.module';
import { CallReconcileJob } from './call-reconcile.job';
import { CallStatusReceiptRepository } from './call-status-receipt.repository';
import { CallStatusReceiptDoc, CallStatusReceiptSchema } from './schemas/call-status-receipt.schema';
import { StatusUpdateController } from './status-update.controller';
import { StatusUpdateService } from './status-update.service';
import { TwilioSignatureGuard } from './twilio-signature.guard';
import { TwimlController } from './twiml.controller';
import { AgentBackendCallbackController } from './agent-backend/agent-backend-callback.controller';
import { AgentHandoffListener } from './agent-backend/agent-handoff.listener';

@Module({
  imports: [MongooseModule.forFeature([{ name: CallStatusReceiptDoc.name, schema: CallStatusReceiptSchema }]), TrackingModule, ScheduleModule, CallsModule],
  controllers: [StatusUpdateController, TwimlController, AgentBackendCallbackController],
  providers: [StatusUpdateService, CallStatusReceiptRepository, TwilioSignatureGuard, CallReconcileJob, AgentHandoffListener],
})
export class StatusUpdateModule implements OnModuleInit {
  constructor(private readonly receipts: CallStatusReceiptRepository) {}

  async onModuleInit(): Promise<void> {
    await this.receipts.ensureIndexes();
  }
}
