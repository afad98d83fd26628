import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { ownBodyContentType } from '../common/http/own-body-routes.middleware';
import { InvalidCampaignInputException } from './campaign.exceptions';
import { CampaignService } from './campaign.service';
import { ImportFormat, MAX_CONTACTS_PER_IMPORT } from './contact-import.service';
import { attemptView, campaignView, contactView } from './dto/campaign.response';
import { CreateCampaignDto, ListAttemptsQuery, ListCampaignsQuery, ListContactsQuery, UpdateCampaignDto } from './dto/create-campaign.dto';

function importFormatOf(req: Request): ImportFormat {
  const raw = ownBodyContentType(req);
  if (raw === 'text/csv' || raw === 'application/csv') return 'csv';
  if (raw === 'application/json') return 'json';
  throw new InvalidCampaignInputException('CAMPAIGN_004', 'Content-Type', 'Send contacts as application/json (an array, or {"contacts": [...]}) or text/csv with a header row');
}

@Controller('campaigns')
export class CampaignController {
  constructor(private readonly service: CampaignService) {}

  @Post()
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateCampaignDto) {
    const campaign = await this.service.create(principal, dto);
    return { status: 'success', message: 'Campaign created', campaign: campaignView(campaign) };
  }

  @Get()
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListCampaignsQuery) {
    const { items, total } = await this.service.list(principal, query.status, query.limit, query.offset);
    return { status: 'success', total, limit: query.limit, offset: query.offset, campaigns: items.map((c) => campaignView(c)) };
  }

  @Get(':id')
  async get(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    const { campaign, counters } = await this.service.get(principal, id);
    return { status: 'success', campaign: campaignView(campaign, counters) };
  }

  @Patch(':id')
  async update(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Body() dto: UpdateCampaignDto) {
    return { status: 'success', message: 'Campaign updated', campaign: campaignView(await this.service.update(principal, id, dto)) };
  }

  // Streamed: rows are validated and inserted in chunks as they arrive (MAX_CONTACTS_PER_IMPORT per request).
  @Post(':id/contacts')
  @HttpCode(200)
  async importContacts(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Req() req: Request) {
    const report = await this.service.importContacts(principal, id, importFormatOf(req), req);
    return { status: 'success', max_contacts_per_request: MAX_CONTACTS_PER_IMPORT, ...report };
  }

  @Get(':id/contacts')
  async contacts(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Query() query: ListContactsQuery) {
    const { items, total } = await this.service.listContacts(principal, id, query.status, query.limit, query.offset);
    return { status: 'success', total, limit: query.limit, offset: query.offset, contacts: items.map(contactView) };
  }

  @Get(':id/attempts')
  async attempts(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Query() query: ListAttemptsQuery) {
    const { items, total } = await this.service.listAttempts(principal, id, query.contact_id, query.limit, query.offset);
    return { status: 'success', total, limit: query.limit, offset: query.offset, attempts: items.map(({ attempt, phone }) => attemptView(attempt, phone)) };
  }

  @Post(':id/run-once')
  @HttpCode(200)
  async runOnce(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    const { campaign, counters, result } = await this.service.runOnce(principal, id);
    return { status: 'success', message: 'Campaign pass run', run: { outcome: result.outcome, started: result.started }, campaign: campaignView(campaign, counters) };
  }

  @Post(':id/start')
  @HttpCode(200)
  async start(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { status: 'success', message: 'Campaign started', campaign: campaignView(await this.service.start(principal, id)) };
  }

  @Post(':id/pause')
  @HttpCode(200)
  async pause(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { status: 'success', message: 'Campaign paused', campaign: campaignView(await this.service.pause(principal, id)) };
  }

  @Post(':id/resume')
  @HttpCode(200)
  async resume(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { status: 'success', message: 'Campaign resumed', campaign: campaignView(await this.service.resume(principal, id)) };
  }

  @Post(':id/cancel')
  @HttpCode(200)
  async cancel(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return { status: 'success', message: 'Campaign cancelled', campaign: campaignView(await this.service.cancel(principal, id)) };
  }
}
