import { Type } from 'class-transformer';
import { RetryPolicyDto } from './retry-policy.dto';
import { IsBoolean, IsIn, IsObject, IsOptional, IsString, MaxLength, MinLength, ValidateNested } from 'class-validator';
import { CallingWindowDto } from '../../calling-rules/dto/calling-window.dto';
import { IsIanaTimezone } from '../../common/validation/is-iana-timezone.decorator';
import { IsPhoneNumber } from '../../common/validation/is-phone.decorator';
import { MISFIRE_POLICIES, MisfirePolicy } from '../schedule.types';
import { RepeatConfigDto } from './repeat-config.dto';

export class CreateScheduleDto {
  @IsString({ context: { errorCode: 'SCHEDULE_001' } })
  @IsPhoneNumber({ context: { errorCode: 'SCHEDULE_001' } })
  phone: string;

  @IsString({ context: { errorCode: 'SCHEDULE_003' }, message: 'scheduled_time must be an ISO-8601 string' })
  @MinLength(10, { context: { errorCode: 'SCHEDULE_003' }, message: 'scheduled_time must be an ISO-8601 date-time' })
  @MaxLength(64, { context: { errorCode: 'SCHEDULE_003' } })
  scheduled_time: string;

  @IsOptional()
  @IsIanaTimezone({ context: { errorCode: 'SCHEDULE_002' } })
  timezone?: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;

  @IsOptional()
  @IsIn(['outbound'])
  call_type?: 'outbound';

  @IsOptional()
  @IsString()
  @MaxLength(128)
  agent_instance_id?: string;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  user_profile_id?: string;

  @IsOptional()
  @IsString()
  @MaxLength(2000)
  notes?: string;

  @IsOptional()
  @IsObject({ context: { errorCode: 'SCHEDULE_008' } })
  metadata?: Record<string, unknown>;

  @IsOptional()
  @ValidateNested()
  @Type(() => RepeatConfigDto)
  @IsObject({ context: { errorCode: 'SCHEDULE_007' } })
  repeat_config?: RepeatConfigDto;

  @IsOptional()
  @IsIn(MISFIRE_POLICIES)
  misfire_policy?: MisfirePolicy;

  @IsOptional()
  @IsObject({ context: { errorCode: 'SCHEDULE_014' } })
  provider_options?: Record<string, unknown>;

  @IsOptional()
  @ValidateNested()
  @Type(() => RetryPolicyDto)
  @IsObject({ context: { errorCode: 'SCHEDULE_015' } })
  retry_policy?: RetryPolicyDto;

  // false waives calling hours for a one-off call the person asked for (DNC still applies).
  @IsOptional()
  @IsBoolean()
  respect_calling_hours?: boolean;

  @IsOptional()
  @IsIanaTimezone({ context: { errorCode: 'SCHEDULE_002' } })
  callee_timezone?: string | null;

  @IsOptional()
  @ValidateNested()
  @Type(() => CallingWindowDto)
  @IsObject({ context: { errorCode: 'CALLING_RULES_001' } })
  calling_window?: CallingWindowDto | null;
}
