import { Body, Controller, Delete, Get, HttpCode, Post, Put, Query } from '@nestjs/common';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { CleanupQuery, TriggerNowQuery, UpdateSchedulerConfigDto } from './dto/scheduler-config.dto';
import { SchedulerConfigService } from './scheduler-config.service';
import { SchedulerConfig } from './scheduler-config.types';

function configView(c: SchedulerConfig) {
  return {
    enabled: c.enabled,
    daily_call_time: c.daily_call_time,
    timezone: c.timezone,
    max_calls_per_day: c.max_calls_per_day,
    max_concurrent_calls: c.max_concurrent_calls,
    retry_failed_after_hours: c.retry_failed_after_hours,
    max_retries_per_contact: c.max_retries_per_contact,
    skip_if_called_within_days: c.skip_if_called_within_days,
    cron_schedule: c.cron_schedule ?? null,
    days_before_due: c.days_before_due ?? null,
    updated_at: c.updated_at ? c.updated_at.toISOString() : null,
  };
}

@Controller('scheduler')
export class SchedulerConfigController {
  constructor(private readonly service: SchedulerConfigService) {}

  @Get('config')
  async get(@CurrentPrincipal() principal: Principal) {
    return { status: 'success', config: configView(await this.service.get(principal.tenantId)) };
  }

  @Put('config')
  async put(@CurrentPrincipal() principal: Principal, @Body() dto: UpdateSchedulerConfigDto) {
    return { status: 'success', message: 'Scheduler configuration updated', config: configView(await this.service.update(principal.tenantId, dto)) };
  }

  @Post('trigger-now')
  @HttpCode(200)
  async triggerNow(@CurrentPrincipal() principal: Principal, @Query() query: TriggerNowQuery) {
    const queued = await this.service.runSelection(principal.tenantId, { days: query.days, maxCalls: query.max_calls });
    return { status: 'success', message: `Daily selection ran; ${queued} contact(s) queued`, queued_count: queued };
  }

  @Get('stats')
  async stats(@CurrentPrincipal() principal: Principal) {
    return { status: 'success', ...(await this.service.stats(principal.tenantId)) };
  }

  @Delete('cleanup')
  @HttpCode(200)
  async cleanup(@CurrentPrincipal() principal: Principal, @Query() query: CleanupQuery) {
    const removed = await this.service.cleanup(principal.tenantId, query.days);
    return { status: 'success', days: query.days, deleted: removed };
  }
}
