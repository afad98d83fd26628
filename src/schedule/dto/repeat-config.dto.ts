import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { Frequency } from '../recurrence/recurrence';

export const FREQUENCIES: Frequency[] = ['hourly', 'daily', 'weekly', 'monthly', 'cron'];
const RC = { context: { errorCode: 'SCHEDULE_007' } };

export class RepeatConfigDto {
  @IsBoolean(RC)
  enabled: boolean;

  @ValidateIf((o: RepeatConfigDto) => o.enabled === true || o.frequency !== undefined)
  @IsIn(FREQUENCIES, { ...RC, message: `frequency must be one of ${FREQUENCIES.join(', ')}` })
  frequency?: Frequency;

  @IsOptional()
  @IsInt(RC)
  @Min(1, RC)
  @Max(1000, RC)
  interval?: number;

  @ValidateIf((o: RepeatConfigDto) => o.frequency === 'cron' || o.cron !== undefined)
  @IsString({ context: { errorCode: 'SCHEDULE_005' }, message: 'cron is required when frequency is cron' })
  @MaxLength(120, { context: { errorCode: 'SCHEDULE_005' } })
  cron?: string;

  @IsOptional()
  @IsArray(RC)
  @ArrayMinSize(1, RC)
  @ArrayMaxSize(7, RC)
  @IsInt({ each: true, ...RC })
  @Min(0, { each: true, ...RC })
  @Max(6, { each: true, ...RC })
  days_of_week?: number[];

  @IsOptional()
  @IsString({ context: { errorCode: 'SCHEDULE_006' } })
  @MaxLength(64)
  end_date?: string;

  @IsOptional()
  @IsInt(RC)
  @Min(1, RC)
  @Max(100_000, RC)
  max_occurrences?: number;
}
