import { Module } from '@nestjs/common';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';
import { ShutdownDrain } from './shutdown-drain.service';

@Module({
  controllers: [HealthController],
  providers: [HealthService, ShutdownDrain],
  exports: [ShutdownDrain],
})
export class HealthModule {}
