import { Controller, Get, Query } from '@nestjs/common';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { callLogView } from './dto/call-log.response';
import { CallStatsQuery, ListCallLogsQuery } from './dto/tracking-filter.query';
import { TrackingService } from './tracking.service';

// Two literal segments after /schedule, so GET /schedule/:id (one segment) can never capture these.
@Controller('schedule/tracking')
export class TrackingController {
  constructor(private readonly service: TrackingService) {}

  @Get('logs')
  async logs(@CurrentPrincipal() principal: Principal, @Query() query: ListCallLogsQuery) {
    const { items, total, nextCursor } = await this.service.listLogs(principal, query);
    return { status: 'success', total, limit: query.limit, offset: query.offset, next_cursor: nextCursor, logs: items.map(callLogView) };
  }

  @Get('stats')
  async stats(@CurrentPrincipal() principal: Principal, @Query() query: CallStatsQuery) {
    return { status: 'success', ...(await this.service.stats(principal, query)) };
  }
}
