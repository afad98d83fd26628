import { CalleeTimezoneResolver } from './callee-timezone.resolver';
import { CallingWindow, defaultCallingWindow, isWithinWindow, nextWindowOpening } from './calling-window';

const EVERY_DAY: CallingWindow = { days: [1, 2, 3, 4, 5, 6, 7], start: '08:00', end: '21:00', holidays: [] };
const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;

describe('calling window', () => {
  it('is open from start (inclusive) to end (exclusive) in the callee zone', () => {
    // Monday 2026-11-23: New York is UTC-5.
    expect(isWithinWindow(EVERY_DAY, ['America/New_York'], at('2026-11-23T12:59:59Z'))).toBe(false);
    expect(isWithinWindow(EVERY_DAY, ['America/New_York'], at('2026-11-23T13:00:00Z'))).toBe(true);
    expect(isWithinWindow(EVERY_DAY, ['America/New_York'], at('2026-11-24T01:59:59Z'))).toBe(true);
    expect(isWithinWindow(EVERY_DAY, ['America/New_York'], at('2026-11-24T02:00:00Z'))).toBe(false);
    expect(iso(nextWindowOpening(EVERY_DAY, ['America/New_York'], at('2026-11-23T13:30:00Z')))).toBe('2026-11-23T13:30:00.000Z');
  });

  it('defers across a timezone boundary: the same instant is open in Los Angeles and closed in New York', () => {
    const instant = at('2026-11-24T02:30:00Z'); // 21:30 in New York, 18:30 in Los Angeles
    expect(isWithinWindow(EVERY_DAY, ['America/Los_Angeles'], instant)).toBe(true);
    expect(isWithinWindow(EVERY_DAY, ['America/New_York'], instant)).toBe(false);
    expect(iso(nextWindowOpening(EVERY_DAY, ['America/New_York'], instant))).toBe('2026-11-24T13:00:00.000Z');
    // Past midnight UTC the local date is still the previous day in Honolulu (UTC-10): opens that local morning.
    expect(iso(nextWindowOpening(EVERY_DAY, ['Pacific/Honolulu'], at('2026-11-24T08:00:00Z')))).toBe('2026-11-24T18:00:00.000Z');
  });

  it('defers across a DST change to the local opening, not the old offset', () => {
    // US spring forward on 2026-03-08: 08:00 EDT is 12:00Z (it was 13:00Z the day before).
    expect(iso(nextWindowOpening(EVERY_DAY, ['America/New_York'], at('2026-03-08T05:00:00Z')))).toBe('2026-03-08T12:00:00.000Z');
    expect(iso(nextWindowOpening(EVERY_DAY, ['America/New_York'], at('2026-03-07T02:30:00Z')))).toBe('2026-03-07T13:00:00.000Z');
    // Fall back on 2026-11-01: 08:00 EST is 13:00Z.
    expect(iso(nextWindowOpening(EVERY_DAY, ['America/New_York'], at('2026-11-01T02:00:00Z')))).toBe('2026-11-01T13:00:00.000Z');
    // Europe changes on another date (2026-03-29): 08:00 CEST is 06:00Z.
    expect(iso(nextWindowOpening(EVERY_DAY, ['Europe/Berlin'], at('2026-03-28T21:00:00Z')))).toBe('2026-03-29T06:00:00.000Z');
    // A window ending at 21:00 on the fall-back day closes at 21:00 EST (02:00Z), an hour later in UTC than on the day before.
    expect(isWithinWindow(EVERY_DAY, ['America/New_York'], at('2026-11-02T01:30:00Z'))).toBe(true);
    expect(isWithinWindow(EVERY_DAY, ['America/New_York'], at('2026-11-01T01:30:00Z'))).toBe(false);
  });

  it('uses only the overlap of the windows when a number maps to two zones', () => {
    const zones = ['America/Boise', 'America/Los_Angeles']; // UTC-7 and UTC-8 in November
    expect(isWithinWindow(EVERY_DAY, zones, at('2026-11-23T15:30:00Z'))).toBe(false); // 08:30 Boise, 07:30 LA
    expect(iso(nextWindowOpening(EVERY_DAY, zones, at('2026-11-23T15:30:00Z')))).toBe('2026-11-23T16:00:00.000Z');
    expect(isWithinWindow(EVERY_DAY, zones, at('2026-11-24T03:30:00Z'))).toBe(true); // 20:30 Boise, 19:30 LA
    expect(isWithinWindow(EVERY_DAY, zones, at('2026-11-24T04:30:00Z'))).toBe(false); // 21:30 Boise, 20:30 LA
    expect(iso(nextWindowOpening(EVERY_DAY, zones, at('2026-11-24T04:30:00Z')))).toBe('2026-11-24T16:00:00.000Z');
  });

  it('skips closed weekdays and holidays in callee-local dates', () => {
    const weekdays: CallingWindow = { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00', holidays: ['2026-11-23'] };
    // Friday 2026-11-20 18:00 in Tokyo (UTC+9): Saturday and Sunday are closed, Monday the 23rd is a holiday.
    expect(iso(nextWindowOpening(weekdays, ['Asia/Tokyo'], at('2026-11-20T09:00:00Z')))).toBe('2026-11-24T00:00:00.000Z');
  });

  it('returns null when the zones never share an open minute', () => {
    const short: CallingWindow = { days: [1, 2, 3, 4, 5, 6, 7], start: '09:00', end: '10:00', holidays: [] };
    expect(nextWindowOpening(short, ['Asia/Tokyo', 'America/New_York'], at('2026-11-23T00:00:00Z'))).toBeNull();
    expect(nextWindowOpening({ ...short, days: [] }, ['UTC'], at('2026-11-23T00:00:00Z'))).toBeNull();
  });

  it('takes an end of 24:00 as the end of the local day, and builds the default window from config', () => {
    const allDay = defaultCallingWindow({ callingHoursDefault: { start: '00:00', end: '24:00' } });
    expect(allDay.days).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(isWithinWindow(allDay, ['Australia/Sydney', 'America/Denver'], at('2026-11-23T23:59:59Z'))).toBe(true);
  });
});

describe('callee timezone resolver', () => {
  const resolver = new CalleeTimezoneResolver();

  it('prefers the explicit timezone', () => {
    expect(resolver.zonesFor('+12125550100', 'Europe/Paris')).toEqual(['Europe/Paris']);
  });

  it('derives the zone from the area code, and keeps every zone of a split area code', () => {
    expect(resolver.zonesFor('+12125550100')).toEqual(['America/New_York']);
    expect(resolver.zonesFor('+14155552671')).toEqual(['America/Los_Angeles']);
    expect(resolver.zonesFor('+12085550123').sort()).toEqual(['America/Boise', 'America/Los_Angeles']);
    expect(resolver.zonesFor('+61291234567')).toEqual(['Australia/Sydney']);
  });

  it('falls back to the schedule timezone for unparseable numbers, and prefers it among a whole country', () => {
    expect(resolver.resolve('not a number', null, 'Europe/Madrid')).toEqual({ zones: ['Europe/Madrid'], source: 'fallback' });
    expect(resolver.zonesFor('not a number')).toEqual([]);
    // A toll-free +1 800 number only matches the country code, which lists every NANP zone.
    expect(resolver.zonesFor('+18005550199', null, 'America/Chicago')).toEqual(['America/Chicago']);
    expect(resolver.zonesFor('+18005550199').length).toBeGreaterThan(5);
  });
});
