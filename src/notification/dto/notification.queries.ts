import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, Matches } from 'class-validator';
import { PageQuery } from '../../common/dto/page.query';
import { DELIVERY_STATUSES, DeliveryStatus } from '../notification.types';

export class ListDeliveriesQuery extends PageQuery {
  @IsOptional()
  @Matches(/^[0-9a-f]{24}$/i, { context: { errorCode: 'VALIDATION_006' }, message: 'subscription_id must be a subscription id' })
  subscription_id?: string;

  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;
}

export class StreamQuery {
  @IsOptional()
  @Transform(({ value }) => (value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value))
  @IsBoolean()
  all?: boolean;

  // For clients that cannot set headers on the first connection (browser EventSource); the header wins.
  @IsOptional()
  @Matches(/^[0-9a-f]{24}$/i, { context: { errorCode: 'NOTIFICATION_006' }, message: 'last_event_id must be an event id received from this stream' })
  last_event_id?: string;
}
