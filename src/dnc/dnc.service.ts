import { Injectable } from '@nestjs/common';
import { toE164 } from '../common/validation/is-phone.decorator';
import { DncListCache } from './dnc-list.cache';
import { DncRepository } from './dnc.repository';

const LOOKUP_CHUNK = 1000;

// The do-not-call check every dial and campaign selection goes through. Tenant-scoped; numbers are
// compared in E.164, so "+1 (415) 555-2671" and "+14155552671" are the same entry.
@Injectable()
export class DncService {
  constructor(
    private readonly entries: DncRepository,
    private readonly lists: DncListCache,
  ) {}

  async isBlocked(tenantId: string, phone: string): Promise<boolean> {
    return this.lists.isListed(tenantId, toE164(phone) ?? phone);
  }

  // The blocked ones among `phones`, each in the form it was given and in E.164.
  async findBlocked(tenantId: string, phones: string[]): Promise<Set<string>> {
    const byE164 = new Map<string, string[]>();
    for (const phone of phones) {
      const e164 = toE164(phone) ?? phone;
      const forms = byE164.get(e164);
      if (forms) forms.push(phone);
      else byE164.set(e164, [phone]);
    }
    const blocked = new Set<string>();
    const keys = [...byE164.keys()];
    for (let i = 0; i < keys.length; i += LOOKUP_CHUNK) {
      for (const listed of await this.entries.findListed(tenantId, keys.slice(i, i + LOOKUP_CHUNK))) {
        blocked.add(listed);
        for (const form of byE164.get(listed) ?? []) blocked.add(form);
      }
    }
    return blocked;
  }
}
