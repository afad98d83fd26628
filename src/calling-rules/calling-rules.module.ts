import { Module } from '@nestjs/common';
import { CalleeTimezoneResolver } from './callee-timezone.resolver';

@Module({
  providers: [CalleeTimezoneResolver],
  exports: [CalleeTimezoneResolver],
})
export class CallingRulesModule {}
