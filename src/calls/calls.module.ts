import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { CallingRulesModule } from '../calling-rules/calling-rules.module';
import { DncModule } from '../dnc/dnc.module';
import { CallDispatcher } from './call-dispatcher';
import { CallProviderRegistry } from './call-provider.registry';
import { CallStatusInbox } from './call-status-inbox';
import { DialPolicy } from './dial-policy.service';
import { CallLeaseRepository } from './pacing/call-lease.repository';
import { CallPacer } from './pacing/call-pacer.service';
import { CallSeatReleaser } from './pacing/call-seat.releaser';
import { DialSlotRepository } from './pacing/dial-slot.repository';
import { ProviderCallDispatcher } from './provider-call.dispatcher';
import { AgentBackendCallProvider } from './providers/agent-backend-call.provider';
import { AgentBackendClient } from './providers/agent-backend.client';
import { SimulatedCallProvider } from './providers/simulated-call.provider';
import { TwilioCallProvider } from './providers/twilio-call.provider';
import { TwilioClientFactory } from './providers/twilio-client.factory';
import { CallLeaseDoc, CallLeaseSchema } from './schemas/call-lease.schema';
import { DialSlotDoc, DialSlotSchema } from './schemas/dial-slot.schema';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: DialSlotDoc.name, schema: DialSlotSchema },
      { name: CallLeaseDoc.name, schema: CallLeaseSchema },
    ]),
    DncModule,
    CallingRulesModule,
  ],
  providers: [
    CallStatusInbox,
    SimulatedCallProvider,
    TwilioClientFactory,
    TwilioCallProvider,
    AgentBackendClient,
    AgentBackendCallProvider,
    CallProviderRegistry,
    DialSlotRepository,
    CallLeaseRepository,
    CallPacer,
    CallSeatReleaser,
    DialPolicy,
    ProviderCallDispatcher,
    { provide: CallDispatcher, useExisting: ProviderCallDispatcher },
  ],
  exports: [CallDispatcher, CallProviderRegistry, DialPolicy, CallPacer, CallStatusInbox],
})
export class CallsModule {}
