import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { CallLogRepository } from './call-log.repository';
import { CallLogDoc, CallLogSchema } from './schemas/call-log.schema';

@Module({
  imports: [MongooseModule.forFeature([{ name: CallLogDoc.name, schema: CallLogSchema }])],
  providers: [CallLogRepository],
  exports: [CallLogRepository],
})
export class TrackingModule {}
