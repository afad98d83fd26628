import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditNoteOf, RecordsOwnAudit } from '../audit/audit.decorators';
import type { AuditNote } from '../audit/audit.types';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { RequestValidationException } from '../common/errors/app.exception';
import { ownBodyContentType, readOwnJsonBody } from '../common/http/own-body-routes.middleware';
import { MAX_BULK_SCHEDULES, ScheduleBulkService } from './schedule-bulk.service';
import { CreateScheduleDto } from './dto/create-schedule.dto';
import { PageQuery } from '../common/dto/page.query';
import { ListSchedulesQuery } from './dto/list-schedules.query';
import { activeView, eventView, scheduleView } from './dto/schedule.response';
import { UpdateScheduleDto } from './dto/update-schedule.dto';
import { ScheduleService } from './schedule.service';

function idempotencyKeyOf(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(raw)) {
    throw new RequestValidationException('VALIDATION_001', 'Idempotency-Key', 'Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  return raw;
}

// 10,000 create bodies with generous metadata; the global JSON limit does not apply to this route.
const BULK_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

@Controller('schedule')
export class ScheduleController {
  constructor(
    private readonly service: ScheduleService,
    private readonly bulk: ScheduleBulkService,
  ) {}

  // 200, not 201: the original Schedule Module's clients assert it. A replay is told apart by its header.
  // Its audit entry is stored with its events, after the answer.
  @Post()
  @HttpCode(200)
  @RecordsOwnAudit()
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateScheduleDto,
    @Headers('idempotency-key') rawKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
    @AuditNoteOf() auditNote: AuditNote | undefined,
  ) {
    const { schedule, replayed } = await this.service.create(principal, dto, idempotencyKeyOf(rawKey), auditNote);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    return {
      status: 'success',
      message: 'Call scheduled successfully',
      schedule_id: schedule.id,
      next_execution: schedule.next_execution?.toISOString() ?? null,
    };
  }

  // Up to MAX_BULK_SCHEDULES create bodies as {"schedules": [...]}; one result per item, in order.
  @Post('bulk')
  async createMany(
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Headers('idempotency-key') rawKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const key = idempotencyKeyOf(rawKey);
    if (ownBodyContentType(req) !== 'application/json') throw new RequestValidationException('SCHEDULE_016', 'Content-Type', 'Send the schedules as application/json');
    const body = await readOwnJsonBody(req, BULK_BODY_LIMIT_BYTES);
    const items = (body as { schedules?: unknown } | null)?.schedules;
    if (!Array.isArray(items) || items.length === 0 || items.length > MAX_BULK_SCHEDULES || Object.keys(body as object).length !== 1) {
      throw new RequestValidationException('SCHEDULE_016', 'schedules', `The body must be {"schedules": [...]} with 1 to ${MAX_BULK_SCHEDULES} schedules`);
    }
    const { results, replayed } = await this.bulk.createMany(principal, items, key);
    res.status(replayed ? 200 : 201);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    const created = results.filter((r) => r.status === 'created').length;
    return { status: 'success', message: `${created} of ${results.length} schedules created`, total: results.length, created, rejected: results.length - created, results };
  }

  @Get()
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListSchedulesQuery) {
    const { items, total } = await this.service.list(principal, query);
    return { status: 'success', total, limit: query.limit, offset: query.offset, schedules: items.map(scheduleView) };
  }

  @Get('active')
  async active(@CurrentPrincipal() principal: Principal, @Query() query: PageQuery) {
    const { items, total } = await this.service.listActive(principal, query.limit, query.offset);
    return { status: 'success', total, limit: query.limit, offset: query.offset, active_schedules: items.map(activeView) };
  }

  @Get(':id')
  async get(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    const { schedule, events } = await this.service.get(principal, id);
    return { status: 'success', schedule: { ...scheduleView(schedule), events: events.map(eventView) } };
  }

  @Put(':id')
  async update(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Body() dto: UpdateScheduleDto) {
    const schedule = await this.service.update(principal, id, dto);
    return { status: 'success', message: 'Schedule updated', schedule: scheduleView(schedule) };
  }

  @Delete(':id')
  @HttpCode(200)
  async remove(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    await this.service.remove(principal, id);
    return { status: 'success', message: 'Schedule deleted', schedule_id: id };
  }

  @Post(':id/pause')
  @HttpCode(200)
  async pause(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { status: 'success', message: 'Schedule paused', schedule: scheduleView(await this.service.pause(principal, id)) };
  }

  @Post(':id/resume')
  @HttpCode(200)
  async resume(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { status: 'success', message: 'Schedule resumed', schedule: scheduleView(await this.service.resume(principal, id)) };
  }

  @Post(':id/cancel')
  @HttpCode(200)
  async cancel(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { status: 'success', message: 'Schedule cancelled', schedule: scheduleView(await this.service.cancel(principal, id)) };
  }
}
