import { IntersectionType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsISO8601, IsMongoId, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IsIanaTimezone } from '../../common/validation/is-iana-timezone.decorator';
import { IsPhoneNumber, toE164 } from '../../common/validation/is-phone.decorator';
import { PageQuery } from '../../common/dto/page.query';
import { CALL_STATUSES, CallStatus } from '../call-status';

// A date alone, or a date-time that names its offset: a zoneless time would mean the server's zone.
const DATE_OR_ZONED = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;
const DATE_MESSAGE = (field: string) => `${field} must be YYYY-MM-DD or an ISO-8601 date-time with Z or an offset`;

export class TrackingFilterQuery {
  @IsOptional()
  @IsString()
  @MaxLength(128)
  user_profile_id?: string;

  @IsOptional()
  @IsMongoId({ context: { errorCode: 'VALIDATION_006' } })
  schedule_id?: string;

  // Stored numbers are E.164, so "+1 (415) 555-2671" must find "+14155552671".
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? (toE164(value) ?? value) : value))
  @IsString({ context: { errorCode: 'SCHEDULE_001' } })
  @IsPhoneNumber({ context: { errorCode: 'SCHEDULE_001' } })
  phone?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  @Matches(DATE_OR_ZONED, { message: DATE_MESSAGE('start_date') })
  start_date?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  @Matches(DATE_OR_ZONED, { message: DATE_MESSAGE('end_date') })
  end_date?: string;

  // The day that date-only start_date/end_date and by_day buckets mean.
  @IsOptional()
  @IsIanaTimezone({ context: { errorCode: 'SCHEDULE_002' } })
  timezone?: string;
}

class StatusFilter {
  @IsOptional()
  @IsIn(CALL_STATUSES)
  status?: CallStatus;
}

class CursorQuery {
  // Keyset paging: the next_cursor of the previous page, instead of an offset (which reads and skips every
  // earlier log on each page).
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'cursor must be a next_cursor returned by this endpoint' })
  cursor?: string;
}

export class ListCallLogsQuery extends IntersectionType(PageQuery, TrackingFilterQuery, StatusFilter, CursorQuery) {}

export class CallStatsQuery extends TrackingFilterQuery {
  @IsOptional()
  @IsIn(['day'])
  group_by?: 'day';
}
