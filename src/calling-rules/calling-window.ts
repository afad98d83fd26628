import { DateTime } from 'luxon';
import type { AppConfig } from '../config/app-config';

// A type alias rather than an interface so that it is assignable to mongoose's Mixed/filter types.
export type CallingWindow = {
  days: number[]; // ISO weekdays 1=Mon..7=Sun
  start: string; // HH:mm, callee-local
  end: string; // HH:mm (or 24:00), callee-local, exclusive
  holidays: string[]; // YYYY-MM-DD, callee-local dates
};

export const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7];
export const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;
export const HH_MM_OR_24 = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

// Far enough to get past a year of holidays; a window that never opens within it never opens.
const SEARCH_DAYS = 400;
const MAX_ROUNDS = 5000;

export function defaultCallingWindow(config: Pick<AppConfig, 'callingHoursDefault'>): CallingWindow {
  return { days: [...ALL_DAYS], start: config.callingHoursDefault.start, end: config.callingHoursDefault.end, holidays: [] };
}

export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

// The window's interval on one callee-local day, as instants: DST days are shorter or longer, and a
// wall time inside a spring-forward gap resolves to the instant after the gap.
function intervalOn(window: CallingWindow, day: DateTime): { start: number; end: number } | null {
  if (!window.days.includes(day.weekday) || window.holidays.includes(day.toISODate()!)) return null;
  const startMin = minutesOf(window.start);
  const endMin = minutesOf(window.end);
  if (endMin <= startMin) return null;
  const at = (minutes: number) =>
    minutes >= 24 * 60
      ? day.plus({ days: 1 }).startOf('day').toMillis()
      : DateTime.fromObject({ year: day.year, month: day.month, day: day.day, hour: Math.floor(minutes / 60), minute: minutes % 60 }, { zone: day.zone }).toMillis();
  return { start: at(startMin), end: at(endMin) };
}

// The first instant >= t at which the window is open in one zone, or null.
function earliestOpenInZone(window: CallingWindow, zone: string, t: number): number | null {
  const today = DateTime.fromMillis(t, { zone }).startOf('day');
  if (!today.isValid) return null;
  for (let offset = 0; offset <= SEARCH_DAYS; offset++) {
    const interval = intervalOn(window, today.plus({ days: offset }));
    if (interval && interval.end > t) return Math.max(interval.start, t);
  }
  return null;
}

function zonesOrUtc(zones: string[]): string[] {
  return zones.length > 0 ? zones : ['UTC'];
}

// Open when it is inside the window in every zone: a number mapped to several zones is only called
// when it is a fine hour in all of them.
export function isWithinWindow(window: CallingWindow, zones: string[], at: Date): boolean {
  const t = at.getTime();
  return zonesOrUtc(zones).every((zone) => earliestOpenInZone(window, zone, t) === t);
}

// The first instant >= at at which isWithinWindow holds (at itself when it already does); null when the
// window never opens in the overlap of the zones (empty days, or zones whose windows never meet).
export function nextWindowOpening(window: CallingWindow, zones: string[], at: Date): Date | null {
  const all = zonesOrUtc(zones);
  const limit = at.getTime() + SEARCH_DAYS * 24 * 3600_000;
  let t = at.getTime();
  for (let round = 0; round < MAX_ROUNDS && t <= limit; round++) {
    let latest = t;
    for (const zone of all) {
      const open = earliestOpenInZone(window, zone, t);
      if (open === null) return null;
      latest = Math.max(latest, open);
    }
    if (latest === t) return new Date(t);
    t = latest;
  }
  return null;
}
