import { Injectable } from '@nestjs/common';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { isValidTimezone } from '../schedule/recurrence/recurrence';
import phoneTimezones from './data/phone-timezones.json';

export type CalleeZoneSource = 'explicit' | 'number' | 'fallback' | 'unknown';

export interface CalleeZones {
  zones: string[];
  source: CalleeZoneSource;
}

// Google libphonenumber's prefix -> zones map (scripts/update-phone-timezones.js regenerates it).
const PREFIXES: Record<string, string> = (phoneTimezones as { prefixes: Record<string, string> }).prefixes;

// Where a callee is, in order: the contact's explicit timezone; the zones of the longest number prefix
// in Google's map (area code level for NANP, Australia, Brazil, Russia...); else the schedule's or
// campaign's timezone.
@Injectable()
export class CalleeTimezoneResolver {
  private readonly byPrefix = new Map<string, string[]>();

  zonesFor(phone: string, explicitTimezone?: string | null, fallbackTimezone?: string | null): string[] {
    return this.resolve(phone, explicitTimezone, fallbackTimezone).zones;
  }

  resolve(phone: string, explicitTimezone?: string | null, fallbackTimezone?: string | null): CalleeZones {
    if (explicitTimezone && isValidTimezone(explicitTimezone)) return { zones: [explicitTimezone], source: 'explicit' };
    const fallback: CalleeZones = fallbackTimezone && isValidTimezone(fallbackTimezone) ? { zones: [fallbackTimezone], source: 'fallback' } : { zones: [], source: 'unknown' };
    const parsed = typeof phone === 'string' ? parsePhoneNumberFromString(phone.trim()) : undefined;
    if (!parsed) return fallback;
    const digits = parsed.number.replace(/^\+/, '');
    for (let length = digits.length; length > 0; length--) {
      const zones = this.zonesOfPrefix(digits.slice(0, length));
      if (!zones) continue;
      if (zones.length === 0) return fallback;
      // Only the country code matched (a toll-free or non-geographic number): the whole country's zones.
      // When the campaign's own zone is one of them it is the better guess than their overlap.
      const countryLevel = length <= parsed.countryCallingCode.length;
      if (countryLevel && zones.length > 1 && fallback.source === 'fallback' && zones.includes(fallback.zones[0])) return fallback;
      return { zones, source: 'number' };
    }
    return fallback;
  }

  private zonesOfPrefix(prefix: string): string[] | null {
    const cached = this.byPrefix.get(prefix);
    if (cached) return cached;
    const raw = PREFIXES[prefix];
    if (raw === undefined) return null;
    // "Etc/Unknown" and zones this runtime's ICU does not know are left out.
    const zones = raw.split('&').filter((zone) => zone !== 'Etc/Unknown' && isValidTimezone(zone));
    this.byPrefix.set(prefix, zones);
    return zones;
  }
}
