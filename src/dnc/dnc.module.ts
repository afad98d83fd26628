import { Module, OnModuleInit } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { DncAdminService } from './dnc-admin.service';
import { DncController } from './dnc.controller';
import { DncImportService } from './dnc-import.service';
import { DncRepository } from './dnc.repository';
import { DncService } from './dnc.service';
import { DncEntryDoc, DncEntrySchema } from './schemas/dnc-entry.schema';
import { DncVersionDoc, DncVersionSchema } from './schemas/dnc-version.schema';
import { DncListCache } from './dnc-list.cache';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: DncEntryDoc.name, schema: DncEntrySchema },
      { name: DncVersionDoc.name, schema: DncVersionSchema },
    ]),
  ],
  controllers: [DncController],
  providers: [DncRepository, DncListCache, DncService, DncAdminService, DncImportService],
  exports: [DncService],
})
export class DncModule implements OnModuleInit {
  constructor(private readonly entries: DncRepository) {}

  // The unique (tenant, phone) index is what makes imports idempotent and the list one entry per number.
  async onModuleInit(): Promise<void> {
    await this.entries.ensureIndexes();
  }
}
