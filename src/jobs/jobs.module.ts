import { Global, Module } from '@nestjs/common';
import { JobQueueService } from './job-queue.service';
import { JobsBootstrapService } from './jobs-bootstrap.service';

@Global()
@Module({
  providers: [JobQueueService, JobsBootstrapService],
  exports: [JobQueueService],
})
export class JobsModule {}
