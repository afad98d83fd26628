import { Module, OnModuleInit } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AuditModule } from '../audit/audit.module';
import { CallsModule } from '../calls/calls.module';
import { TrackingModule } from '../tracking/tracking.module';
import { CallInstructionsService } from './call-instructions.service';
import { CallRetryJob } from './dispatch/call-retry.job';
import { CallDeferredJob } from './dispatch/call-deferred.job';
import { DispatchTrigger } from './dispatch/dispatch-trigger';
import { DueScheduleSweeper } from './dispatch/due-schedule.sweeper';
import { OccurrenceDispatchService } from './dispatch/occurrence-dispatch.service';
import { ClaimsCleanupJob } from './dispatch/claims-cleanup.job';
import { ScheduleReconcileJob } from './dispatch/schedule-reconcile.job';
import { IdempotencyKeyRepository } from './idempotency-key.repository';
import { InternalScheduleService } from './internal-schedule.service';
import { OccurrenceClaimRepository } from './occurrence-claim.repository';
import { ScheduleEventRepository } from './schedule-event.repository';
import { ScheduleCreationRelay } from './schedule-creation.relay';
import { ScheduleOutbox } from './schedule-outbox';
import { ScheduleOutcomeService } from './schedule-outcome.service';
import { ScheduleController } from './schedule.controller';
import { ScheduleRepository } from './schedule.repository';
import { ScheduleService } from './schedule.service';
import { writeGateFeature } from '../common/mongo/write-gate';
import { CallScheduleDoc, CallScheduleSchema, SCHEDULE_WRITE_GATE, ScheduleOutboxPendingDoc, ScheduleOutboxPendingSchema } from './schemas/call-schedule.schema';
import { IdempotencyKeyDoc, IdempotencyKeySchema } from './schemas/idempotency-key.schema';
import { BulkRequestDoc, BulkRequestSchema } from './schemas/bulk-request.schema';
import { BulkRequestRepository } from './bulk-request.repository';
import { ScheduleBulkService } from './schedule-bulk.service';
import { OCCURRENCE_CLAIM_WRITE_GATE, OccurrenceClaimDoc, OccurrenceClaimSchema } from './schemas/occurrence-claim.schema';
import { ClaimDecisionDoc, ClaimDecisionSchema } from './schemas/claim-decision.schema';
import { ClaimEndingDoc, ClaimEndingSchema } from './schemas/claim-ending.schema';
import { ScheduleEventDoc, ScheduleEventSchema } from './schemas/schedule-event.schema';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: CallScheduleDoc.name, schema: CallScheduleSchema },
      { name: ScheduleOutboxPendingDoc.name, schema: ScheduleOutboxPendingSchema },
      { name: ScheduleEventDoc.name, schema: ScheduleEventSchema },
      { name: OccurrenceClaimDoc.name, schema: OccurrenceClaimSchema },
      { name: ClaimDecisionDoc.name, schema: ClaimDecisionSchema },
      { name: ClaimEndingDoc.name, schema: ClaimEndingSchema },
      { name: IdempotencyKeyDoc.name, schema: IdempotencyKeySchema },
      { name: BulkRequestDoc.name, schema: BulkRequestSchema },
      writeGateFeature(SCHEDULE_WRITE_GATE, 'schedule_write_gates'),
      writeGateFeature(OCCURRENCE_CLAIM_WRITE_GATE, 'occurrence_claim_write_gates'),
    ]),
    AuditModule,
    CallsModule,
    TrackingModule,
  ],
  controllers: [ScheduleController],
  providers: [
    ScheduleRepository,
    ScheduleEventRepository,
    ScheduleOutbox,
    ScheduleCreationRelay,
    OccurrenceClaimRepository,
    IdempotencyKeyRepository,
    ScheduleService,
    ScheduleBulkService,
    BulkRequestRepository,
    ScheduleOutcomeService,
    CallInstructionsService,
    OccurrenceDispatchService,
    CallRetryJob,
    CallDeferredJob,
    ScheduleReconcileJob,
    ClaimsCleanupJob,
    DispatchTrigger,
    DueScheduleSweeper,
    InternalScheduleService,
  ],
  exports: [ScheduleOutcomeService, CallInstructionsService, InternalScheduleService, ScheduleService],
})
export class ScheduleModule implements OnModuleInit {
  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly claims: OccurrenceClaimRepository,
  ) {}

  // The claim ledger's unique index must exist before the first dispatch: it is the exactly-once guarantee.
  async onModuleInit(): Promise<void> {
    await Promise.all([this.schedules.ensureIndexes(), this.claims.ensureIndexes()]);
  }
}
