import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsIanaTimezone } from '../../common/validation/is-iana-timezone.decorator';

const D = { context: { errorCode: 'CAMPAIGN_006' } };

// PUT replaces the fields given; the others keep their stored (or default) values.
export class UpdateSchedulerConfigDto {
  @IsOptional()
  @IsBoolean(D)
  enabled?: boolean;

  @IsOptional()
  @Matches(/^([01]\d|2[0-3]):[0-5]\d$/, { ...D, message: 'daily_call_time must be HH:mm (00:00-23:59)' })
  daily_call_time?: string;

  @IsOptional()
  @IsIanaTimezone({ context: { errorCode: 'SCHEDULE_002' } })
  timezone?: string;

  @IsOptional()
  @IsInt(D)
  @Min(0, D)
  @Max(1_000_000, D)
  max_calls_per_day?: number;

  @IsOptional()
  @IsInt(D)
  @Min(1, D)
  @Max(1000, D)
  max_concurrent_calls?: number;

  @IsOptional()
  @IsInt(D)
  @Min(0, D)
  @Max(24 * 365, D)
  retry_failed_after_hours?: number;

  @IsOptional()
  @IsInt(D)
  @Min(0, D)
  @Max(20, D)
  max_retries_per_contact?: number;

  @IsOptional()
  @IsInt(D)
  @Min(0, D)
  @Max(365, D)
  skip_if_called_within_days?: number;

  // A 5-field cron expression in `timezone` (seed 002's `0 9 * * 1-5`); null returns to daily_call_time.
  @IsOptional()
  @IsString({ context: { errorCode: 'SCHEDULE_005' } })
  @MaxLength(100, { context: { errorCode: 'SCHEDULE_005' } })
  cron_schedule?: string | null;

  // Null: each due-date campaign's own call_days_before.
  @IsOptional()
  @IsInt(D)
  @Min(0, D)
  @Max(366, D)
  days_before_due?: number | null;
}

export class TriggerNowQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt(D)
  @Min(0, D)
  @Max(366, D)
  days?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt(D)
  @Min(1, D)
  @Max(1_000_000, D)
  max_calls?: number;
}

export class CleanupQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt(D)
  @Min(1, D)
  @Max(3650, D)
  days: number = 30;
}
