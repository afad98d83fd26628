import { DynamicModule, Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule as NestCronModule } from '@nestjs/schedule';
import { AdminModule } from './admin/admin.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { CampaignModule } from './campaign/campaign.module';
import { SchedulerConfigModule } from './scheduler-config/scheduler-config.module';
import { RenewalsCompatModule } from './compat-renewals/renewals-compat.module';
import { CommonModule } from './common/common.module';
import { AppConfigValues } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { DatabaseModule } from './database/database.module';
import { DncModule } from './dnc/dnc.module';
import { CallingRulesModule } from './calling-rules/calling-rules.module';
import { HealthModule } from './health/health.module';
import { JobsModule } from './jobs/jobs.module';
import { NotificationModule } from './notification/notification.module';
import { ObservabilityModule } from './observability/observability.module';
import { ScheduleModule } from './schedule/schedule.module';
import { CompatTasksModule } from './compat-tasks/compat-tasks.module';
import { SecurityModule } from './security/security.module';
import { StatusUpdateModule } from './status-update/status-update.module';
import { TrackingModule } from './tracking/tracking.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfigValues): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CommonModule,
        DatabaseModule,
        EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }),
        NestCronModule.forRoot(),
        JobsModule,
        // Before AuthModule: the rate limit guard runs ahead of JWT checks, so token guessing is limited too.
        SecurityModule,
        AuthModule,
        ObservabilityModule,
        AuditModule,
        AdminModule,
        HealthModule,
        NotificationModule,
        TrackingModule,
        ScheduleModule,
        CompatTasksModule,
        CallingRulesModule,
        DncModule,
        StatusUpdateModule,
        CampaignModule,
        SchedulerConfigModule,
        RenewalsCompatModule,
        DashboardModule,
      ],
    };
  }
}
