import { Module } from '@nestjs/common';
import { CallDispatcher } from './call-dispatcher';
import { SimulatedCallProvider } from './providers/simulated-call.provider';

@Module({
  providers: [SimulatedCallProvider, { provide: CallDispatcher, useExisting: SimulatedCallProvider }],
  exports: [CallDispatcher],
})
export class CallsModule {}
