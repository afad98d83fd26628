import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators';
import { AuditService } from './audit.service';
import { AuditQuery } from './dto/audit.query';
import { AuditPageResponse } from './dto/audit.response';

@ApiTags('audit')
@AdminOnly()
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({ summary: 'Audit trail of state-changing API calls (admins only), newest first' })
  @ApiOkResponse({ type: AuditPageResponse })
  async list(@Query() query: AuditQuery) {
    const { total, entries } = await this.audit.find(
      {
        actor: query.actor,
        tenant_id: query.tenant_id,
        action: query.action,
        target_id: query.target_id,
        outcome: query.outcome,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
      },
      query.limit,
      query.offset,
    );
    return { status: 'success', total, limit: query.limit, offset: query.offset, entries };
  }
}
