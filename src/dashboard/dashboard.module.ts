import { Module } from '@nestjs/common';
import { DashboardBundle, DEFAULT_DASHBOARD_DIR } from './dashboard-bundle';
import { DashboardController } from './dashboard.controller';

@Module({
  controllers: [DashboardController],
  providers: [{ provide: DashboardBundle, useFactory: () => new DashboardBundle(DEFAULT_DASHBOARD_DIR) }],
})
export class DashboardModule {}
