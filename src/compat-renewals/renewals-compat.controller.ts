import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { SchedulerRequestException } from '../scheduler-config/scheduler-config.exceptions';
import { SchedulerConfigService, ScheduledCall } from '../scheduler-config/scheduler-config.service';
import { BatchReason, SchedulerConfig } from '../scheduler-config/scheduler-config.types';
import { CreateScheduledCallDto, PendingCustomersQuery, RenewalCleanupQuery, RenewalConfigDto, RenewalReason, ScheduledCallsQuery, TriggerNowRenewalQuery } from './dto/renewals.dto';

// Seed 001 shows 30 when the tenant has not set a window of its own (each campaign's call_days_before applies).
const SEED_DAYS_BEFORE_EXPIRY = 30;
const toCoreReason = (r: RenewalReason): BatchReason => (r === 'expiring_policy' ? 'due_date' : r);
const toSeedReason = (r: BatchReason): RenewalReason => (r === 'due_date' ? 'expiring_policy' : r);

// Errors name the seed's field: its customer is the core's contact.
async function inSeedTerms<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SchedulerRequestException && error.details.field === 'contact_id') throw new SchedulerRequestException(error.code, 'customer_id', error.details.issue.replace('contact', 'customer'));
    throw error;
  }
}

function configView(c: SchedulerConfig) {
  return {
    enabled: c.enabled,
    daily_call_time: c.daily_call_time,
    days_before_expiry: c.days_before_due ?? SEED_DAYS_BEFORE_EXPIRY,
    max_calls_per_day: c.max_calls_per_day,
    skip_if_called_within_days: c.skip_if_called_within_days,
    max_concurrent_calls: c.max_concurrent_calls,
    retry_failed_after_hours: c.retry_failed_after_hours,
    max_retries_per_customer: c.max_retries_per_contact,
  };
}

function scheduledCallView({ entry, status, contact }: ScheduledCall, timezone: string) {
  const attempted = contact?.last_attempt_at && contact.last_attempt_at.getTime() >= entry.created_at.getTime() ? contact.last_attempt_at : null;
  return {
    id: entry.id,
    customer_id: entry.contact_id,
    customer_policy_id: null,
    scheduled_date: entry.day,
    scheduled_time: entry.release_at ? DateTime.fromJSDate(entry.release_at, { zone: timezone }).toFormat('HH:mm') : null,
    status,
    reason: toSeedReason(entry.reason),
    priority: entry.priority,
    celery_task_id: null,
    call_id: null,
    notes: entry.notes,
    retry_count: contact ? Math.max(0, contact.attempts - 1) : 0,
    created_at: entry.created_at.toISOString(),
    executed_at: attempted ? attempted.toISOString() : null,
  };
}

// Seed 001's renewal auto-scheduler API (`/api/scheduler/...`) in its own field names and response shapes,
// over the core daily batch: customers are due-date campaign contacts, a policy's end date their due_date.
@Controller('api/scheduler')
export class RenewalsCompatController {
  constructor(private readonly scheduler: SchedulerConfigService) {}

  @Get('config')
  async getConfig(@CurrentPrincipal() principal: Principal) {
    return configView(await this.scheduler.get(principal.tenantId));
  }

  @Put('config')
  async putConfig(@CurrentPrincipal() principal: Principal, @Body() dto: RenewalConfigDto) {
    const saved = await this.scheduler.update(principal.tenantId, {
      enabled: dto.enabled,
      daily_call_time: dto.daily_call_time,
      days_before_due: dto.days_before_expiry,
      max_calls_per_day: dto.max_calls_per_day,
      max_concurrent_calls: dto.max_concurrent_calls,
      retry_failed_after_hours: dto.retry_failed_after_hours,
      max_retries_per_contact: dto.max_retries_per_customer,
      skip_if_called_within_days: dto.skip_if_called_within_days,
    });
    return configView(saved);
  }

  @Get('pending-customers')
  async pendingCustomers(@CurrentPrincipal() principal: Principal, @Query() query: PendingCustomersQuery) {
    const pending = await this.scheduler.pendingContacts(principal.tenantId, { days: query.days, limit: query.limit });
    return {
      count: pending.length,
      customers: pending.map(({ contact, campaign, days_to_due }) => ({
        customer_id: contact.id,
        customer_name: contact.name,
        customer_phone: contact.phone,
        policy_name: typeof contact.variables.policy_name === 'string' ? contact.variables.policy_name : campaign.name,
        policy_end_date: contact.due_date,
        days_to_expiry: days_to_due,
      })),
    };
  }

  @Get('scheduled-calls')
  async scheduledCalls(@CurrentPrincipal() principal: Principal, @Query() query: ScheduledCallsQuery) {
    const config = await this.scheduler.get(principal.tenantId);
    const calls = await this.scheduler.listScheduledCalls(principal.tenantId, {
      day: query.date,
      contact_id: query.customer_id,
      reason: query.reason ? toCoreReason(query.reason) : undefined,
      status: query.status,
      limit: query.limit,
    });
    return { count: calls.length, scheduled_calls: calls.map((c) => scheduledCallView(c, config.timezone)) };
  }

  @Post('scheduled-calls')
  @HttpCode(200)
  async createScheduledCall(@CurrentPrincipal() principal: Principal, @Body() dto: CreateScheduledCallDto) {
    const config = await this.scheduler.get(principal.tenantId);
    const call = await inSeedTerms(() =>
      this.scheduler.scheduleCall(principal.tenantId, {
        contact_id: dto.customer_id,
        day: dto.scheduled_date,
        time: dto.scheduled_time,
        reason: toCoreReason(dto.reason ?? 'manual'),
        priority: dto.priority,
        notes: dto.notes,
      }),
    );
    return scheduledCallView(call, config.timezone);
  }

  @Delete('scheduled-calls/:id')
  async cancelScheduledCall(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    const config = await this.scheduler.get(principal.tenantId);
    const call = await this.scheduler.cancelScheduledCall(principal.tenantId, id);
    return { success: true, message: 'Scheduled call cancelled', scheduled_call: scheduledCallView(call, config.timezone) };
  }

  @Get('stats')
  async stats(@CurrentPrincipal() principal: Principal) {
    const stats = await this.scheduler.stats(principal.tenantId);
    return {
      today: stats.today,
      scheduled_today: stats.scheduled_today,
      completed_today: stats.completed_today,
      failed_today: stats.failed_today,
      pending_today: stats.pending_today,
      total_pending: stats.total_pending,
      next_scheduled_time: stats.next_run_at ? DateTime.fromISO(stats.next_run_at, { zone: stats.timezone }).toFormat('HH:mm') : null,
      scheduler_enabled: stats.scheduler_enabled,
    };
  }

  // Runs at once (there is no separate worker): task_id only names this run, queued_count is what it released.
  @Post('trigger-now')
  @HttpCode(200)
  async triggerNow(@CurrentPrincipal() principal: Principal, @Query() query: TriggerNowRenewalQuery) {
    const queued = await this.scheduler.runSelection(principal.tenantId, { days: query.days, maxCalls: query.max_calls });
    return { success: true, message: `Scheduler triggered for ${query.days} days expiry window`, task_id: randomUUID(), queued_count: queued };
  }

  @Delete('cleanup')
  async cleanup(@CurrentPrincipal() principal: Principal, @Query() query: RenewalCleanupQuery) {
    const removed = await this.scheduler.cleanup(principal.tenantId, query.days);
    return { success: true, days: query.days, deleted_count: removed.batch_entries, deleted_attempts: removed.campaign_attempts };
  }
}
