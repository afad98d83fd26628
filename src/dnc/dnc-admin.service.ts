import { Injectable } from '@nestjs/common';
import { Principal } from '../auth/principal';
import { Clock } from '../common/clock/clock';
import { toObjectId } from '../common/mongo/mongo-query';
import { toE164 } from '../common/validation/is-phone.decorator';
import { DncRepository } from './dnc.repository';
import { AlreadyOnDncListException, DncEntryNotFoundException } from './dnc.exceptions';
import { DncEntry } from './dnc.types';
import { CreateDncEntryDto, ListDncQuery } from './dto/dnc.dto';

// The /dnc API's use cases; the dial-time check is DncService.
@Injectable()
export class DncAdminService {
  constructor(
    private readonly entries: DncRepository,
    private readonly clock: Clock,
  ) {}

  async add(principal: Principal, dto: CreateDncEntryDto): Promise<DncEntry> {
    const phone = toE164(dto.phone)!;
    const entry = await this.entries.insertOne({
      tenant_id: principal.tenantId,
      phone,
      reason: dto.reason?.trim() || null,
      source: 'api',
      created_by: principal.sub,
      created_at: this.clock.now(),
    });
    if (!entry) throw new AlreadyOnDncListException(phone);
    return entry;
  }

  list(principal: Principal, query: ListDncQuery): Promise<{ items: DncEntry[]; total: number }> {
    const prefix = query.phone_prefix?.replace(/[^\d+]/g, '');
    return this.entries.list(
      principal.tenantId,
      { phone: query.phone ? toE164(query.phone)! : undefined, phonePrefix: prefix ? (prefix.startsWith('+') ? prefix : `+${prefix}`) : undefined, source: query.source },
      query.limit,
      query.offset,
    );
  }

  async get(principal: Principal, key: string): Promise<DncEntry> {
    const entry = await this.find(principal.tenantId, key);
    if (!entry) throw new DncEntryNotFoundException(key);
    return entry;
  }

  async remove(principal: Principal, key: string): Promise<DncEntry> {
    const entry = await this.get(principal, key);
    if (!(await this.entries.deleteById(principal.tenantId, entry.id))) throw new DncEntryNotFoundException(key);
    return entry;
  }

  private find(tenantId: string, key: string): Promise<DncEntry | null> {
    if (toObjectId(key)) return this.entries.findById(tenantId, key);
    const phone = toE164(key);
    return phone ? this.entries.findByPhone(tenantId, phone) : Promise.resolve(null);
  }
}
