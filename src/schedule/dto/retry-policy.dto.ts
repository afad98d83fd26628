import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { RETRY_BACKOFFS, RETRYABLE_CALL_STATUSES } from '../schedule.types';

const RP = { context: { errorCode: 'SCHEDULE_015' } };
// Twilio spells it no-answer; the call log says no_answer. Both are accepted.
const normaliseStatuses = ({ value }: { value: unknown }) => (Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v.replace('-', '_') : v)) : value);

export class RetryPolicyDto {
  @IsOptional()
  @IsInt(RP)
  @Min(1, RP)
  @Max(10, RP)
  max_attempts?: number;

  @IsOptional()
  @Transform(normaliseStatuses)
  @IsArray(RP)
  @ArrayMaxSize(3, RP)
  @IsIn(RETRYABLE_CALL_STATUSES, { each: true, ...RP })
  retry_on?: string[];

  @IsOptional()
  @IsInt(RP)
  @Min(0, RP)
  @Max(7 * 24 * 3600, RP)
  delay_seconds?: number;

  @IsOptional()
  @IsIn(RETRY_BACKOFFS, RP)
  backoff?: string;
}
