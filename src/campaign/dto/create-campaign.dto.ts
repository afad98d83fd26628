import { PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsISO8601, IsMongoId, IsObject, IsOptional, IsString, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { CallingWindowDto } from '../../calling-rules/dto/calling-window.dto';
import { PageQuery } from '../../common/dto/page.query';
import { IsIanaTimezone } from '../../common/validation/is-iana-timezone.decorator';
import { CAMPAIGN_STATUSES, CampaignStatus, CONTACT_STATUSES, ContactStatus, DUE_DATE_MATCHES, DueDateMatch } from '../campaign.types';

const C = { context: { errorCode: 'CAMPAIGN_003' } };
export const RETRY_ON_INPUT = ['busy', 'no_answer', 'no-answer', 'failed'] as const;

export class CreateCampaignDto {
  @IsString(C)
  @MinLength(1, C)
  @MaxLength(200, C)
  name: string;

  @IsOptional()
  @IsIanaTimezone({ context: { errorCode: 'SCHEDULE_002' } })
  timezone?: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => CallingWindowDto)
  @IsObject({ context: { errorCode: 'CALLING_RULES_001' } })
  calling_window?: CallingWindowDto;

  @IsOptional()
  @IsISO8601({ strict: true }, C)
  start_at?: string;

  @IsOptional()
  @IsISO8601({ strict: true }, C)
  end_at?: string;

  @IsOptional()
  @IsInt(C)
  @Min(1, C)
  @Max(20, C)
  max_attempts?: number;

  @IsOptional()
  @IsInt(C)
  @Min(1, C)
  @Max(20, C)
  max_attempts_per_day?: number;

  @IsOptional()
  @IsInt(C)
  @Min(0, C)
  @Max(7 * 24 * 60, C)
  min_attempt_gap_minutes?: number;

  @IsOptional()
  @IsArray(C)
  @ArrayMinSize(0, C)
  @ArrayMaxSize(4, C)
  @IsIn(RETRY_ON_INPUT, { each: true, ...C })
  retry_on?: string[];

  // Seconds from an unanswered attempt to the next one.
  @IsOptional()
  @IsInt(C)
  @Min(0, C)
  @Max(30 * 24 * 3600, C)
  retry_delay?: number;

  @IsOptional()
  @IsInt(C)
  @Min(1, C)
  @Max(1000, C)
  max_concurrent_calls?: number;

  @IsOptional()
  @IsInt(C)
  @Min(1, C)
  @Max(1_000_000, C)
  daily_cap?: number;

  @IsOptional()
  @IsInt(C)
  @Min(-1000, C)
  @Max(1000, C)
  priority?: number;

  @IsOptional()
  @IsObject({ context: { errorCode: 'SCHEDULE_014' } })
  provider_options?: Record<string, unknown>;

  // Due-date mode: contacts are released by the daily batch when their due_date is within N days.
  @IsOptional()
  @IsInt(C)
  @Min(0, C)
  @Max(366, C)
  call_days_before?: number;

  // Most attempts one pass of the campaign starts (seed 003's batch_size); default CAMPAIGN_TICK_BATCH.
  @IsOptional()
  @IsInt(C)
  @Min(1, C)
  @Max(10_000, C)
  batch_size?: number;

  @IsOptional()
  @IsIn(DUE_DATE_MATCHES, C)
  due_date_match?: DueDateMatch;

  @IsOptional()
  @IsString(C)
  @MinLength(1, C)
  @MaxLength(64, C)
  required_contact_status?: string;
}

export class UpdateCampaignDto extends PartialType(CreateCampaignDto) {}

export class ListCampaignsQuery extends PageQuery {
  @IsOptional()
  @IsIn(CAMPAIGN_STATUSES)
  status?: CampaignStatus;
}

export class ListContactsQuery extends PageQuery {
  @IsOptional()
  @IsIn(CONTACT_STATUSES)
  status?: ContactStatus;
}

export class ListAttemptsQuery extends PageQuery {
  @IsOptional()
  @IsMongoId()
  contact_id?: string;
}
