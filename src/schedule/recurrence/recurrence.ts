import { CronExpressionParser } from 'cron-parser';
import { IANAZone } from 'luxon';

export type Frequency = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'cron';

export interface RepeatConfig {
  enabled: boolean;
  frequency?: Frequency;
  interval?: number;
  cron?: string;
  days_of_week?: number[];
  end_date?: Date;
  max_occurrences?: number;
}

export type IntervalUnit = 'hour' | 'day' | 'week' | 'month';

export interface CompiledRecurrence {
  cron: string;
  timezone: string;
  anchor: Date;
  interval: number;
  unit: IntervalUnit | null;
}

export class InvalidScheduledTimeError extends Error {
  readonly field = 'scheduled_time';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidScheduledTimeError';
  }
}

export class UnknownTimezoneError extends Error {
  readonly field = 'timezone';
  constructor(readonly timezone: string) {
    super(`Unknown IANA timezone: "${timezone}"`);
    this.name = 'UnknownTimezoneError';
  }
}

export class InvalidRepeatConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidRepeatConfigError';
  }
}

export class InvalidCronError extends InvalidRepeatConfigError {
  constructor(message: string) {
    super('repeat_config.cron', message);
    this.name = 'InvalidCronError';
  }
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const SEARCH_DAYS = 5 * 366;
const MAX_INTERVAL = 1000;
const FREQUENCIES: readonly Frequency[] = ['hourly', 'daily', 'weekly', 'monthly', 'cron'];
const CRON_ALIASES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly']);

// luxon validates a zone by constructing an Intl.DateTimeFormat, which costs more than a whole iteration.
const validZones = new Map<string, IANAZone>();

export function isValidTimezone(tz: string): boolean {
  if (typeof tz !== 'string' || tz.length === 0) return false;
  if (validZones.has(tz)) return true;
  if (!IANAZone.isValidZone(tz)) return false;
  validZones.set(tz, IANAZone.create(tz));
  return true;
}

function zoneOf(timezone: string): IANAZone {
  if (!isValidTimezone(timezone)) throw new UnknownTimezoneError(timezone);
  return validZones.get(timezone) ?? IANAZone.create(timezone);
}

function offsetMs(zone: IANAZone, instant: number): number {
  return Math.round(zone.offset(instant) * MINUTE_MS);
}

// Civil-date arithmetic (H. Hinnant) so no code path ever touches the process time zone.
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

interface CivilDate {
  year: number;
  month: number;
  day: number;
  weekday: number;
}

function civilFromDays(days: number): CivilDate {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day, weekday: mod(days + 4, 7) };
}

function daysInMonth(y: number, m: number): number {
  return daysFromCivil(m === 12 ? y + 1 : y, m === 12 ? 1 : m + 1, 1) - daysFromCivil(y, m, 1);
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

type WallResolution = { kind: 'valid'; instant: number } | { kind: 'gap'; before: number; after: number };

// wallMs is the wall-clock reading encoded as if it were UTC milliseconds. With one transition in the
// ±1 day window, a wall time valid under the earlier offset is also its first occurrence: in an
// overlap the earlier offset is the larger one, in a gap only one offset can be valid.
function classifyWall(zone: IANAZone, wallMs: number): WallResolution {
  const offBefore = offsetMs(zone, wallMs - DAY_MS);
  if (offsetMs(zone, wallMs - offBefore) === offBefore) return { kind: 'valid', instant: wallMs - offBefore };
  const offAfter = offsetMs(zone, wallMs + DAY_MS);
  if (offsetMs(zone, wallMs - offAfter) === offAfter) return { kind: 'valid', instant: wallMs - offAfter };
  return { kind: 'gap', before: wallMs - Math.max(offBefore, offAfter), after: wallMs - Math.min(offBefore, offAfter) };
}

function transitionInstant(zone: IANAZone, before: number, after: number): number {
  let lo = before;
  let hi = after;
  const offHi = offsetMs(zone, hi);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetMs(zone, mid) === offHi) hi = mid;
    else lo = mid;
  }
  return hi;
}

// A wall time skipped by a forward jump maps to the jump itself; a repeated one maps to its first instant.
function wallMsToInstant(zone: IANAZone, wallMs: number): number {
  const res = classifyWall(zone, wallMs);
  return res.kind === 'valid' ? res.instant : transitionInstant(zone, res.before, res.after);
}

export function wallTimeToInstant(zone: string, y: number, m: number, d: number, h: number, min: number): Date {
  const z = zoneOf(zone);
  const parts = [y, m, d, h, min];
  if (
    parts.some((p) => !Number.isInteger(p)) ||
    m < 1 ||
    m > 12 ||
    d < 1 ||
    d > daysInMonth(y, m) ||
    h < 0 ||
    h > 23 ||
    min < 0 ||
    min > 59
  ) {
    throw new RangeError(`Invalid wall time ${parts.join(',')}`);
  }
  return new Date(wallMsToInstant(z, daysFromCivil(y, m, d) * DAY_MS + h * HOUR_MS + min * MINUTE_MS));
}

const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

export function resolveScheduledTime(input: string, timezone: string): Date {
  const zone = zoneOf(timezone);
  const match = typeof input === 'string' ? ISO_PATTERN.exec(input.trim()) : null;
  if (!match) throw new InvalidScheduledTimeError(`scheduled_time is not an ISO-8601 date-time: "${input}"`);
  const [, ys, mos, ds, hs, mis, ss, frac, offset] = match;
  const [y, mo, d, h, mi] = [ys, mos, ds, hs, mis].map(Number);
  const s = ss === undefined ? 0 : Number(ss);
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) {
    throw new InvalidScheduledTimeError(`scheduled_time is out of range: "${input}"`);
  }
  const wallMs = daysFromCivil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * MINUTE_MS + s * 1000 + ms;
  if (offset === undefined) return new Date(wallMsToInstant(zone, wallMs));
  if (offset.toUpperCase() === 'Z') return new Date(wallMs);
  const digits = offset.slice(1).replace(':', '');
  const oh = Number(digits.slice(0, 2));
  const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (oh > 23 || om > 59) throw new InvalidScheduledTimeError(`scheduled_time has an invalid offset: "${input}"`);
  const sign = offset.startsWith('-') ? -1 : 1;
  return new Date(wallMs - sign * (oh * HOUR_MS + om * MINUTE_MS));
}

interface CronSpec {
  minutes: number[];
  hours: number[];
  months: boolean[];
  doms: boolean[];
  dows: boolean[];
  domRestricted: boolean;
  dowRestricted: boolean;
  everyHour: boolean;
}

const specCache = new Map<string, CronSpec>();

function flags(values: readonly number[], size: number): boolean[] {
  const out = new Array<boolean>(size).fill(false);
  for (const v of values) out[v] = true;
  return out;
}

function numeric(values: readonly (number | string)[], what: string): number[] {
  return values.map((v) => {
    if (typeof v !== 'number') throw new InvalidCronError(`Unsupported ${what} value "${v}"`);
    return v;
  });
}

function parseCron(expr: string): CronSpec {
  const cached = specCache.get(expr);
  if (cached) return cached;
  const tokens = expr.trim().split(/\s+/);
  const isAlias = tokens.length === 1 && CRON_ALIASES.has(tokens[0].toLowerCase());
  if (!isAlias) {
    if (tokens.length !== 5) {
      throw new InvalidCronError(`Cron expression must have exactly 5 fields, got ${tokens.length}`);
    }
    for (const token of tokens) {
      // cron-parser also accepts L, W, # and H (hashed/random); none of them are supported here.
      if (!token.split(/[,/-]/).every((piece) => /^(\d+|\*|\?|[a-z]{3})$/i.test(piece))) {
        throw new InvalidCronError(`Unsupported cron field "${token}"`);
      }
    }
  }
  let fields;
  try {
    fields = CronExpressionParser.parse(isAlias ? tokens[0].toLowerCase() : tokens.join(' ')).fields;
  } catch (err) {
    throw new InvalidCronError(`Invalid cron expression "${expr}": ${err instanceof Error ? err.message : String(err)}`);
  }
  const seconds = numeric(fields.second.values, 'second');
  if (seconds.length !== 1 || seconds[0] !== 0) throw new InvalidCronError('Seconds are not supported');
  if (fields.dayOfWeek.nthDay !== 0) throw new InvalidCronError('Nth weekday (#) is not supported');
  const dowValues = numeric(fields.dayOfWeek.values, 'day-of-week').map((v) => v % 7);
  const domValues = numeric(fields.dayOfMonth.values, 'day-of-month');
  const hours = [...numeric(fields.hour.values, 'hour')].sort((a, b) => a - b);
  const dows = flags(dowValues, 7);
  // Vixie cron: a day field counts as restricted unless it starts with '*' ('*/2' is still unrestricted).
  const domRestricted = isAlias ? domValues.length < 31 : !/^[*?]/.test(tokens[2]);
  const dowRestricted = isAlias ? dows.some((v) => !v) : !/^[*?]/.test(tokens[4]);
  const spec: CronSpec = {
    minutes: [...numeric(fields.minute.values, 'minute')].sort((a, b) => a - b),
    hours,
    months: flags(numeric(fields.month.values, 'month'), 13),
    doms: flags(domValues, 32),
    dows,
    domRestricted,
    dowRestricted,
    everyHour: hours.length === 24,
  };
  if (specCache.size > 1000) specCache.clear();
  specCache.set(expr, spec);
  return spec;
}

function matchesDay(spec: CronSpec, date: CivilDate): boolean {
  if (!spec.months[date.month]) return false;
  const dom = spec.doms[date.day];
  const dow = spec.dows[date.weekday];
  return spec.domRestricted && spec.dowRestricted ? dom || dow : dom && dow;
}

function positiveInt(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidRepeatConfigError(field, `${field} must be an integer between 1 and ${max}`);
  }
  return value;
}

export function compileRecurrence(start: Date, timezone: string, cfg: RepeatConfig): CompiledRecurrence {
  const zone = zoneOf(timezone);
  if (!(start instanceof Date) || Number.isNaN(start.getTime())) {
    throw new InvalidScheduledTimeError('scheduled_time is not a valid instant');
  }
  if (cfg.enabled !== true) throw new InvalidRepeatConfigError('repeat_config.enabled', 'Recurrence is not enabled');
  const frequency = cfg.frequency;
  if (frequency === undefined || !FREQUENCIES.includes(frequency)) {
    throw new InvalidRepeatConfigError(
      'repeat_config.frequency',
      `repeat_config.frequency must be one of ${FREQUENCIES.join(', ')}`,
    );
  }
  const interval = cfg.interval === undefined ? 1 : positiveInt(cfg.interval, 'repeat_config.interval', MAX_INTERVAL);
  if (cfg.max_occurrences !== undefined) positiveInt(cfg.max_occurrences, 'repeat_config.max_occurrences');
  if (cfg.end_date !== undefined && !(cfg.end_date instanceof Date && !Number.isNaN(cfg.end_date.getTime()))) {
    throw new InvalidRepeatConfigError('repeat_config.end_date', 'repeat_config.end_date must be a valid date');
  }

  const base = { timezone, anchor: new Date(start.getTime()) };
  if (frequency === 'cron') {
    if (typeof cfg.cron !== 'string' || cfg.cron.trim() === '') {
      throw new InvalidRepeatConfigError('repeat_config.cron', 'repeat_config.cron is required when frequency is cron');
    }
    const cron = cfg.cron.trim();
    parseCron(cron);
    const rec: CompiledRecurrence = { ...base, cron, interval: 1, unit: null };
    if (nextOccurrence(rec, start, true) === null) {
      throw new InvalidCronError(`Cron expression "${cron}" never fires`);
    }
    return rec;
  }

  const localMs = start.getTime() + offsetMs(zone, start.getTime());
  const wall = civilFromDays(Math.floor(localMs / DAY_MS));
  const minuteOfDay = Math.floor(mod(localMs, DAY_MS) / MINUTE_MS);
  const hour = Math.floor(minuteOfDay / 60);
  const minute = minuteOfDay % 60;
  const repeat = (unit: IntervalUnit): Pick<CompiledRecurrence, 'interval' | 'unit'> =>
    interval > 1 ? { interval, unit } : { interval: 1, unit: null };

  switch (frequency) {
    case 'hourly':
      if (interval > 1 && 24 % interval === 0) {
        const hours = interval === 24 ? `${hour}` : `${hour % interval}-23/${interval}`;
        return { ...base, cron: `${minute} ${hours} * * *`, interval: 1, unit: null };
      }
      return { ...base, cron: `${minute} * * * *`, ...repeat('hour') };
    case 'daily':
      return { ...base, cron: `${minute} ${hour} * * *`, ...repeat('day') };
    case 'weekly': {
      const days = cfg.days_of_week ?? [wall.weekday];
      if (!Array.isArray(days) || days.length === 0 || !days.every((d) => Number.isInteger(d) && d >= 0 && d <= 6)) {
        throw new InvalidRepeatConfigError(
          'repeat_config.days_of_week',
          'repeat_config.days_of_week must be a non-empty list of integers 0 (Sunday) to 6 (Saturday)',
        );
      }
      const dows = [...new Set(days)].sort((a, b) => a - b).join(',');
      return { ...base, cron: `${minute} ${hour} * * ${dows}`, ...repeat('week') };
    }
    case 'monthly':
      return { ...base, cron: `${minute} ${hour} ${wall.day} * *`, ...repeat('month') };
  }
}

function searchDays(rec: CompiledRecurrence): number {
  switch (rec.unit) {
    case 'day':
      return SEARCH_DAYS + rec.interval;
    case 'week':
      return SEARCH_DAYS + 7 * rec.interval;
    case 'month':
      return SEARCH_DAYS + 31 * rec.interval;
    default:
      return SEARCH_DAYS;
  }
}

function dayFilter(rec: CompiledRecurrence, zone: IANAZone): (dayNumber: number, date: CivilDate) => boolean {
  if (rec.interval <= 1 || rec.unit === null || rec.unit === 'hour') return () => true;
  const anchorMs = rec.anchor.getTime();
  const anchorDay = Math.floor((anchorMs + offsetMs(zone, anchorMs)) / DAY_MS);
  const anchor = civilFromDays(anchorDay);
  const n = rec.interval;
  switch (rec.unit) {
    case 'day':
      return (dayNumber) => mod(dayNumber - anchorDay, n) === 0;
    case 'week': {
      const anchorMonday = anchorDay - mod(anchor.weekday - 1, 7);
      return (dayNumber) => mod(Math.floor((dayNumber - anchorMonday) / 7), n) === 0;
    }
    case 'month': {
      const anchorMonth = anchor.year * 12 + anchor.month;
      return (_dayNumber, date) => mod(date.year * 12 + date.month - anchorMonth, n) === 0;
    }
  }
}

export function nextOccurrence(rec: CompiledRecurrence, after: Date, inclusive = false): Date | null {
  const zone = zoneOf(rec.timezone);
  const spec = parseCron(rec.cron);
  if (Number.isNaN(after.getTime())) throw new RangeError('Invalid "after" date');
  const threshold = after.getTime() - (inclusive ? 1 : 0);
  const thresholdWall = threshold + offsetMs(zone, threshold);
  const firstDay = Math.floor(thresholdWall / DAY_MS);
  // Wall→instant is non-decreasing, so any wall time at or before the threshold's own wall time is not after it.
  const firstDayCutoff = Math.floor((thresholdWall - firstDay * DAY_MS) / MINUTE_MS);
  const acceptDay = dayFilter(rec, zone);
  const hourStep = rec.unit === 'hour' && rec.interval > 1 ? rec.interval : 0;
  const lastDay = firstDay + searchDays(rec);

  for (let dayNumber = firstDay; dayNumber <= lastDay; dayNumber++) {
    const date = civilFromDays(dayNumber);
    if (!matchesDay(spec, date) || !acceptDay(dayNumber, date)) continue;
    const cutoff = dayNumber === firstDay ? firstDayCutoff : -1;
    for (const h of spec.hours) {
      if (h * 60 + 59 <= cutoff) continue;
      for (const m of spec.minutes) {
        const minuteOfDay = h * 60 + m;
        if (minuteOfDay <= cutoff) continue;
        const res = classifyWall(zone, dayNumber * DAY_MS + minuteOfDay * MINUTE_MS);
        let instant: number;
        if (res.kind === 'valid') instant = res.instant;
        // Like Vixie cron, an every-hour job does not catch up a skipped wall time: it fires again within the hour.
        else if (spec.everyHour) continue;
        else instant = transitionInstant(zone, res.before, res.after);
        if (instant <= threshold) continue;
        if (hourStep > 0 && mod(Math.round((instant - rec.anchor.getTime()) / HOUR_MS), hourStep) !== 0) continue;
        return new Date(instant);
      }
    }
  }
  return null;
}

export function occurrencesBetween(rec: CompiledRecurrence, from: Date, to: Date, limit: number): Date[] {
  const out: Date[] = [];
  let next = nextOccurrence(rec, from, true);
  while (next !== null && next.getTime() < to.getTime() && out.length < limit) {
    out.push(next);
    next = nextOccurrence(rec, next);
  }
  return out;
}

export function firstOccurrence(start: Date, rec: CompiledRecurrence): Date | null {
  return nextOccurrence(rec, start, true);
}
