import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { AdminSessionController } from './admin-session.controller';

// The job view itself (Agendash) is Express middleware mounted by mountAdminJobs in app.factory.ts.
@Module({
  imports: [AuthModule],
  controllers: [AdminSessionController],
})
export class AdminModule {}
