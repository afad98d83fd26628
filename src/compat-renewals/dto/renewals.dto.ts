import { PickType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { UpdateSchedulerConfigDto } from '../../scheduler-config/dto/scheduler-config.dto';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';

const D = { context: { errorCode: 'CAMPAIGN_006' } };
const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

export const RENEWAL_REASONS = ['expiring_policy', 'follow_up', 'manual'] as const;
export type RenewalReason = (typeof RENEWAL_REASONS)[number];
export const RENEWAL_CALL_STATUSES = ['pending', 'queued', 'completed', 'failed', 'cancelled'] as const;

// Seed 001's SchedulerConfig fields: the core's settings of the same name, plus days_before_expiry and
// max_retries_per_customer (the core's days_before_due and max_retries_per_contact).
export class RenewalConfigDto extends PickType(UpdateSchedulerConfigDto, [
  'enabled',
  'daily_call_time',
  'max_calls_per_day',
  'max_concurrent_calls',
  'retry_failed_after_hours',
  'skip_if_called_within_days',
] as const) {
  @IsOptional()
  @IsInt(D)
  @Min(0, D)
  @Max(366, D)
  days_before_expiry?: number;

  @IsOptional()
  @IsInt(D)
  @Min(0, D)
  @Max(20, D)
  max_retries_per_customer?: number;
}

export class PendingCustomersQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt(D)
  @Min(0, D)
  @Max(366, D)
  days: number = 30;

  @IsOptional()
  @Type(() => Number)
  @IsInt(D)
  @Min(1, D)
  @Max(500, D)
  limit: number = 50;
}

export class TriggerNowRenewalQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt(D)
  @Min(0, D)
  @Max(366, D)
  days: number = 30;

  @IsOptional()
  @Type(() => Number)
  @IsInt(D)
  @Min(1, D)
  @Max(1_000_000, D)
  max_calls: number = 20;
}

export class ScheduledCallsQuery {
  @IsOptional()
  @Matches(DATE, { ...D, message: 'date must be a YYYY-MM-DD date' })
  date?: string;

  @IsOptional()
  @IsIn(RENEWAL_CALL_STATUSES, D)
  status?: (typeof RENEWAL_CALL_STATUSES)[number];

  @IsOptional()
  @IsString(D)
  @MaxLength(64, D)
  customer_id?: string;

  @IsOptional()
  @IsIn(RENEWAL_REASONS, D)
  reason?: RenewalReason;

  @IsOptional()
  @Type(() => Number)
  @IsInt(D)
  @Min(1, D)
  @Max(500, D)
  limit: number = 100;
}

export class CreateScheduledCallDto {
  @IsString(D)
  @MinLength(1, D)
  @MaxLength(64, D)
  customer_id: string;

  @Matches(DATE, { ...D, message: 'scheduled_date must be a YYYY-MM-DD date' })
  scheduled_date: string;

  @IsOptional()
  @Matches(HH_MM, { ...D, message: 'scheduled_time must be HH:mm (00:00-23:59)' })
  scheduled_time?: string;

  @IsOptional()
  @IsIn(RENEWAL_REASONS, D)
  reason?: RenewalReason;

  @IsOptional()
  @IsInt(D)
  @Min(-1000, D)
  @Max(1000, D)
  priority?: number;

  @IsOptional()
  @IsString(D)
  @MaxLength(2000, D)
  notes?: string;
}

export class RenewalCleanupQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt(D)
  @Min(1, D)
  @Max(3650, D)
  days: number = 30;
}
