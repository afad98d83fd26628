import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { ownBodyContentType } from '../common/http/own-body-routes.middleware';
import { DncAdminService } from './dnc-admin.service';
import { DncImportFormat, DncImportService } from './dnc-import.service';
import { InvalidDncImportException } from './dnc.exceptions';
import { CreateDncEntryDto, dncEntryView, ListDncQuery } from './dto/dnc.dto';

function importFormatOf(req: Request): DncImportFormat {
  const type = ownBodyContentType(req);
  if (type === 'text/csv' || type === 'application/csv') return 'csv';
  if (type === 'application/json') return 'json';
  throw new InvalidDncImportException('Content-Type', 'Send the import as text/csv (header phone[,reason]) or application/json (an array of {phone, reason})');
}

// The tenant's do-not-call list. Every route works on the caller's own tenant.
@Controller('dnc')
export class DncController {
  constructor(
    private readonly admin: DncAdminService,
    private readonly importer: DncImportService,
  ) {}

  @Post()
  async add(@CurrentPrincipal() principal: Principal, @Body() dto: CreateDncEntryDto) {
    const entry = await this.admin.add(principal, dto);
    return { status: 'success', message: 'Number added to the do-not-call list', entry: dncEntryView(entry) };
  }

  @Post('import')
  @HttpCode(200)
  async import(@CurrentPrincipal() principal: Principal, @Req() req: Request) {
    const format = importFormatOf(req);
    const started = Date.now();
    const report = await this.importer.importStream(principal.tenantId, principal.sub, format, req);
    return { status: 'success', message: 'Import processed', format, ...report, duration_ms: Date.now() - started };
  }

  @Get()
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListDncQuery) {
    const { items, total } = await this.admin.list(principal, query);
    return { status: 'success', total, limit: query.limit, offset: query.offset, entries: items.map(dncEntryView) };
  }

  // By id, or by phone number in any international notation (URL-encode the +).
  @Get(':key')
  async get(@CurrentPrincipal() principal: Principal, @Param('key') key: string) {
    return { status: 'success', entry: dncEntryView(await this.admin.get(principal, key)) };
  }

  @Delete(':key')
  @HttpCode(200)
  async remove(@CurrentPrincipal() principal: Principal, @Param('key') key: string) {
    const entry = await this.admin.remove(principal, key);
    return { status: 'success', message: 'Number removed from the do-not-call list', entry: dncEntryView(entry) };
  }
}
