import {
  CompiledRecurrence,
  Frequency,
  InvalidCronError,
  InvalidRepeatConfigError,
  InvalidScheduledTimeError,
  RepeatConfig,
  UnknownTimezoneError,
  compileRecurrence,
  firstOccurrence,
  isValidTimezone,
  nextOccurrence,
  occurrencesBetween,
  resolveScheduledTime,
  wallTimeToInstant,
} from './recurrence';

const NY = 'America/New_York';
const LONDON = 'Europe/London';
const SYDNEY = 'Australia/Sydney';

function at(iso: string): Date {
  return new Date(iso);
}

function iso(dates: (Date | null)[]): (string | null)[] {
  return dates.map((d) => (d === null ? null : d.toISOString()));
}

function take(rec: CompiledRecurrence, from: Date, n: number): string[] {
  const out: Date[] = [];
  let next = nextOccurrence(rec, from, true);
  while (next !== null && out.length < n) {
    out.push(next);
    next = nextOccurrence(rec, next);
  }
  return out.map((d) => d.toISOString());
}

function compile(startLocal: string, timezone: string, cfg: Omit<RepeatConfig, 'enabled'>): CompiledRecurrence {
  return compileRecurrence(resolveScheduledTime(startLocal, timezone), timezone, { enabled: true, ...cfg });
}

function cronRec(cron: string, timezone: string, anchor = at('2026-01-01T00:00:00Z')): CompiledRecurrence {
  return compileRecurrence(anchor, timezone, { enabled: true, frequency: 'cron', cron });
}

describe('isValidTimezone', () => {
  it.each(['UTC', NY, LONDON, SYDNEY, 'Asia/Kolkata'])('accepts %s', (tz) => {
    expect(isValidTimezone(tz)).toBe(true);
  });

  it.each(['Mars/Olympus', '', 'Not a zone', '+05:00'])('rejects %j', (tz) => {
    expect(isValidTimezone(tz)).toBe(false);
  });
});

describe('resolveScheduledTime', () => {
  it('treats a Z suffix as an instant', () => {
    expect(resolveScheduledTime('2026-05-01T12:00:00Z', NY).toISOString()).toBe('2026-05-01T12:00:00.000Z');
    expect(resolveScheduledTime('2026-05-01T12:00:00.250Z', 'UTC').toISOString()).toBe('2026-05-01T12:00:00.250Z');
  });

  it('treats an explicit offset as an instant', () => {
    expect(resolveScheduledTime('2026-05-01T12:00:00+05:30', NY).toISOString()).toBe('2026-05-01T06:30:00.000Z');
    expect(resolveScheduledTime('2026-05-01T12:00-0400', 'UTC').toISOString()).toBe('2026-05-01T16:00:00.000Z');
  });

  it('reads a time without offset as wall-clock time in the timezone', () => {
    expect(resolveScheduledTime('2026-05-01T09:00:00', NY).toISOString()).toBe('2026-05-01T13:00:00.000Z');
    expect(resolveScheduledTime('2026-01-15T09:00', NY).toISOString()).toBe('2026-01-15T14:00:00.000Z');
    expect(resolveScheduledTime('2026-01-15T09:00:00', 'Asia/Kolkata').toISOString()).toBe('2026-01-15T03:30:00.000Z');
  });

  it.each(['tomorrow', '', '2026-05-01', '2026-02-30T10:00:00', '2026-05-01T24:00:00', '2026-05-01T10:00:00+25:00', '09:00'])(
    'rejects unparsable input %j',
    (input) => {
      expect(() => resolveScheduledTime(input, NY)).toThrow(InvalidScheduledTimeError);
    },
  );

  it('rejects an unknown timezone', () => {
    expect(() => resolveScheduledTime('2026-05-01T09:00:00', 'Mars/Olympus')).toThrow(UnknownTimezoneError);
    expect(() => resolveScheduledTime('2026-05-01T09:00:00Z', '')).toThrow(UnknownTimezoneError);
  });

  it('moves a wall time in the spring-forward gap to the transition instant', () => {
    expect(resolveScheduledTime('2026-03-08T02:30:00', NY).toISOString()).toBe('2026-03-08T07:00:00.000Z');
    expect(resolveScheduledTime('2026-03-08T02:30:45.5', NY).toISOString()).toBe('2026-03-08T07:00:00.000Z');
  });

  it('resolves a repeated fall-back wall time to the first (daylight) instant', () => {
    expect(resolveScheduledTime('2026-11-01T01:30:00', NY).toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });
});

describe('wallTimeToInstant', () => {
  it.each([
    [NY, [2026, 3, 8, 1, 59], '2026-03-08T06:59:00.000Z'],
    [NY, [2026, 3, 8, 2, 0], '2026-03-08T07:00:00.000Z'],
    [NY, [2026, 3, 8, 2, 30], '2026-03-08T07:00:00.000Z'],
    [NY, [2026, 3, 8, 3, 0], '2026-03-08T07:00:00.000Z'],
    [NY, [2026, 11, 1, 0, 59], '2026-11-01T04:59:00.000Z'],
    [NY, [2026, 11, 1, 1, 0], '2026-11-01T05:00:00.000Z'],
    [NY, [2026, 11, 1, 1, 59], '2026-11-01T05:59:00.000Z'],
    [NY, [2026, 11, 1, 2, 0], '2026-11-01T07:00:00.000Z'],
    [LONDON, [2026, 3, 29, 1, 30], '2026-03-29T01:00:00.000Z'],
    [LONDON, [2026, 10, 25, 1, 30], '2026-10-25T00:30:00.000Z'],
    [SYDNEY, [2026, 10, 4, 2, 30], '2026-10-03T16:00:00.000Z'],
    [SYDNEY, [2026, 4, 5, 2, 30], '2026-04-04T15:30:00.000Z'],
    ['Australia/Lord_Howe', [2026, 10, 4, 2, 15], '2026-10-03T15:30:00.000Z'],
    ['UTC', [2024, 2, 29, 23, 59], '2024-02-29T23:59:00.000Z'],
  ] as const)('%s %j -> %s', (zone, [y, m, d, h, min], expected) => {
    expect(wallTimeToInstant(zone, y, m, d, h, min).toISOString()).toBe(expected);
  });

  it('rejects an unknown zone and impossible wall times', () => {
    expect(() => wallTimeToInstant('Mars/Olympus', 2026, 1, 1, 0, 0)).toThrow(UnknownTimezoneError);
    expect(() => wallTimeToInstant(NY, 2026, 2, 29, 0, 0)).toThrow(RangeError);
  });
});

describe('compileRecurrence', () => {
  it('compiles each frequency from the local wall time of the start', () => {
    const cases: [Frequency, Omit<RepeatConfig, 'enabled' | 'frequency'>, Pick<CompiledRecurrence, 'cron' | 'interval' | 'unit'>][] = [
      ['hourly', {}, { cron: '15 * * * *', interval: 1, unit: null }],
      ['hourly', { interval: 2 }, { cron: '15 1-23/2 * * *', interval: 1, unit: null }],
      ['hourly', { interval: 3 }, { cron: '15 1-23/3 * * *', interval: 1, unit: null }],
      ['hourly', { interval: 24 }, { cron: '15 1 * * *', interval: 1, unit: null }],
      ['hourly', { interval: 5 }, { cron: '15 * * * *', interval: 5, unit: 'hour' }],
      ['daily', {}, { cron: '15 1 * * *', interval: 1, unit: null }],
      ['daily', { interval: 3 }, { cron: '15 1 * * *', interval: 3, unit: 'day' }],
      ['weekly', {}, { cron: '15 1 * * 6', interval: 1, unit: null }],
      ['weekly', { days_of_week: [3, 1, 3] }, { cron: '15 1 * * 1,3', interval: 1, unit: null }],
      ['weekly', { interval: 2, days_of_week: [0] }, { cron: '15 1 * * 0', interval: 2, unit: 'week' }],
      ['monthly', {}, { cron: '15 1 10 * *', interval: 1, unit: null }],
      ['monthly', { interval: 2 }, { cron: '15 1 10 * *', interval: 2, unit: 'month' }],
    ];
    // 2026-01-10 is a Saturday; 01:15 EST is 06:15Z, i.e. a different UTC hour than the local one.
    const start = resolveScheduledTime('2026-01-10T01:15:00', NY);
    for (const [frequency, extra, expected] of cases) {
      const rec = compileRecurrence(start, NY, { enabled: true, frequency, ...extra });
      expect({ frequency, extra, ...rec }).toEqual({
        frequency,
        extra,
        ...expected,
        timezone: NY,
        anchor: start,
      });
    }
  });

  it('passes cron expressions through', () => {
    const rec = cronRec(' */15 9-17 * * 1-5 ', NY);
    expect(rec).toEqual({ cron: '*/15 9-17 * * 1-5', timezone: NY, anchor: at('2026-01-01T00:00:00Z'), interval: 1, unit: null });
    expect(cronRec('@daily', 'UTC').cron).toBe('@daily');
  });

  it.each([
    'not a cron',
    '61 * * * *',
    '0 24 * * *',
    '* * * *',
    '0 0 9 * * *',
    '0 0 30 2 *',
    '0 0 31 4 *',
    '0 0 L * *',
    '0 0 * * 5L',
    '0 0 * * 1#2',
    'H 0 * * *',
    '@reboot',
  ])('rejects cron %j with InvalidCronError', (cron) => {
    let caught: unknown;
    try {
      cronRec(cron, NY);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidCronError);
    expect(caught).toBeInstanceOf(InvalidRepeatConfigError);
    expect((caught as InvalidCronError).field).toBe('repeat_config.cron');
  });

  const start = at('2026-01-10T14:00:00Z');
  it.each<[string, RepeatConfig, string]>([
    ['disabled', { enabled: false, frequency: 'daily' }, 'repeat_config.enabled'],
    ['missing frequency', { enabled: true }, 'repeat_config.frequency'],
    ['unknown frequency', { enabled: true, frequency: 'yearly' as unknown as Frequency }, 'repeat_config.frequency'],
    ['missing cron', { enabled: true, frequency: 'cron' }, 'repeat_config.cron'],
    ['blank cron', { enabled: true, frequency: 'cron', cron: '  ' }, 'repeat_config.cron'],
    ['interval 0', { enabled: true, frequency: 'daily', interval: 0 }, 'repeat_config.interval'],
    ['interval 1.5', { enabled: true, frequency: 'daily', interval: 1.5 }, 'repeat_config.interval'],
    ['interval 1001', { enabled: true, frequency: 'daily', interval: 1001 }, 'repeat_config.interval'],
    ['days_of_week 7', { enabled: true, frequency: 'weekly', days_of_week: [1, 7] }, 'repeat_config.days_of_week'],
    ['days_of_week -1', { enabled: true, frequency: 'weekly', days_of_week: [-1] }, 'repeat_config.days_of_week'],
    ['days_of_week 1.5', { enabled: true, frequency: 'weekly', days_of_week: [1.5] }, 'repeat_config.days_of_week'],
    ['days_of_week empty', { enabled: true, frequency: 'weekly', days_of_week: [] }, 'repeat_config.days_of_week'],
    ['max_occurrences 0', { enabled: true, frequency: 'daily', max_occurrences: 0 }, 'repeat_config.max_occurrences'],
    ['invalid end_date', { enabled: true, frequency: 'daily', end_date: new Date('nope') }, 'repeat_config.end_date'],
  ])('rejects %s', (_label, cfg, field) => {
    let caught: unknown;
    try {
      compileRecurrence(start, NY, cfg);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidRepeatConfigError);
    expect((caught as InvalidRepeatConfigError).field).toBe(field);
  });

  it('rejects an unknown timezone', () => {
    expect(() => compileRecurrence(start, 'Mars/Olympus', { enabled: true, frequency: 'daily' })).toThrow(
      UnknownTimezoneError,
    );
  });
});

describe('nextOccurrence semantics', () => {
  const rec = compile('2026-01-10T09:00:00', NY, { frequency: 'daily' });

  it('is exclusive by default and inclusive on request', () => {
    expect(nextOccurrence(rec, at('2026-01-10T14:00:00Z'))?.toISOString()).toBe('2026-01-11T14:00:00.000Z');
    expect(nextOccurrence(rec, at('2026-01-10T14:00:00Z'), true)?.toISOString()).toBe('2026-01-10T14:00:00.000Z');
    expect(nextOccurrence(rec, at('2026-01-10T13:59:59.999Z'))?.toISOString()).toBe('2026-01-10T14:00:00.000Z');
    expect(nextOccurrence(rec, at('2026-01-10T14:00:00.001Z'), true)?.toISOString()).toBe('2026-01-11T14:00:00.000Z');
  });

  it('firstOccurrence of a non-cron schedule is the start itself', () => {
    for (const frequency of ['hourly', 'daily', 'weekly', 'monthly'] as const) {
      for (const interval of [1, 2, 5]) {
        const start = resolveScheduledTime('2026-03-08T03:45:00', NY);
        const r = compileRecurrence(start, NY, { enabled: true, frequency, interval });
        expect(firstOccurrence(start, r)?.toISOString()).toBe(start.toISOString());
      }
    }
  });

  it('firstOccurrence of a cron schedule is its first match at or after the start', () => {
    const r = cronRec('30 10 * * 1', NY, at('2026-01-10T14:00:00Z'));
    expect(firstOccurrence(at('2026-01-10T14:00:00Z'), r)?.toISOString()).toBe('2026-01-12T15:30:00.000Z');
  });

  it('returns null when nothing fires within the search horizon', () => {
    // Every 48 months from Feb 2026 only visits non-leap Februaries (2030, 2034) within the horizon.
    const r: CompiledRecurrence = {
      cron: '0 0 29 2 *',
      timezone: 'UTC',
      anchor: at('2026-02-01T00:00:00Z'),
      interval: 48,
      unit: 'month',
    };
    expect(nextOccurrence(r, at('2026-01-01T00:00:00Z'))).toBeNull();
  });
});

describe('daily schedules across DST', () => {
  it('keeps 09:00 local in New York across both 2026 transitions', () => {
    const rec = compile('2026-03-06T09:00:00', NY, { frequency: 'daily' });
    expect(take(rec, rec.anchor, 4)).toEqual([
      '2026-03-06T14:00:00.000Z',
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
    ]);
    expect(take(rec, at('2026-10-30T00:00:00Z'), 4)).toEqual([
      '2026-10-30T13:00:00.000Z',
      '2026-10-31T13:00:00.000Z',
      '2026-11-01T14:00:00.000Z',
      '2026-11-02T14:00:00.000Z',
    ]);
  });

  it('fires a 02:30 New York schedule once at 03:00 EDT on spring-forward day', () => {
    const rec = compile('2026-03-07T02:30:00', NY, { frequency: 'daily' });
    expect(take(rec, rec.anchor, 3)).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
  });

  it('fires a 01:30 New York schedule once on fall-back day', () => {
    const rec = compile('2026-10-31T01:30:00', NY, { frequency: 'daily' });
    expect(take(rec, rec.anchor, 3)).toEqual([
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
    expect(nextOccurrence(rec, at('2026-11-01T06:00:00Z'))?.toISOString()).toBe('2026-11-02T06:30:00.000Z');
  });

  it('applies the same rules in Europe/London', () => {
    const rec = compile('2026-03-28T01:30:00', LONDON, { frequency: 'daily' });
    expect(take(rec, rec.anchor, 3)).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    expect(take(rec, at('2026-10-24T00:00:00Z'), 3)).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('applies the same rules in Australia/Sydney', () => {
    const rec = compile('2026-04-04T02:30:00', SYDNEY, { frequency: 'daily' });
    expect(take(rec, rec.anchor, 3)).toEqual([
      '2026-04-03T15:30:00.000Z',
      '2026-04-04T15:30:00.000Z',
      '2026-04-05T16:30:00.000Z',
    ]);
    expect(take(rec, at('2026-10-02T00:00:00Z'), 3)).toEqual([
      '2026-10-02T16:30:00.000Z',
      '2026-10-03T16:00:00.000Z',
      '2026-10-04T15:30:00.000Z',
    ]);
  });

  it('fires every 3 days counted in local calendar days', () => {
    const rec = compile('2026-03-06T09:00:00', NY, { frequency: 'daily', interval: 3 });
    expect(take(rec, rec.anchor, 4)).toEqual([
      '2026-03-06T14:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
      '2026-03-12T13:00:00.000Z',
      '2026-03-15T13:00:00.000Z',
    ]);
  });
});

describe('hourly schedules', () => {
  function expectStrictlyIncreasing(values: string[]): void {
    for (let i = 1; i < values.length; i++) expect(Date.parse(values[i])).toBeGreaterThan(Date.parse(values[i - 1]));
    expect(new Set(values).size).toBe(values.length);
  }

  it('runs through a New York spring-forward without duplicates or a catch-up run', () => {
    const rec = compile('2026-03-07T23:15:00', NY, { frequency: 'hourly' });
    const out = take(rec, rec.anchor, 5);
    expect(out).toEqual([
      '2026-03-08T04:15:00.000Z',
      '2026-03-08T05:15:00.000Z',
      '2026-03-08T06:15:00.000Z',
      '2026-03-08T07:15:00.000Z',
      '2026-03-08T08:15:00.000Z',
    ]);
    expectStrictlyIncreasing(take(rec, rec.anchor, 100));
  });

  it('runs through a New York fall-back once per wall hour', () => {
    const rec = compile('2026-10-31T23:15:00', NY, { frequency: 'hourly' });
    const out = take(rec, rec.anchor, 5);
    expect(out).toEqual([
      '2026-11-01T03:15:00.000Z',
      '2026-11-01T04:15:00.000Z',
      '2026-11-01T05:15:00.000Z',
      '2026-11-01T07:15:00.000Z',
      '2026-11-01T08:15:00.000Z',
    ]);
    expectStrictlyIncreasing(take(rec, rec.anchor, 100));
  });

  it('every-minute cron steps straight over the gap', () => {
    const rec = cronRec('* * * * *', NY);
    expect(nextOccurrence(rec, at('2026-03-08T06:59:00Z'))?.toISOString()).toBe('2026-03-08T07:00:00.000Z');
    expect(nextOccurrence(rec, at('2026-11-01T05:59:00Z'))?.toISOString()).toBe('2026-11-01T07:00:00.000Z');
    expect(nextOccurrence(rec, at('2026-05-01T10:00:30Z'))?.toISOString()).toBe('2026-05-01T10:01:00.000Z');
  });

  it('interval 2 fires on local hours congruent to the start hour', () => {
    const rec = compile('2026-01-10T01:15:00', NY, { frequency: 'hourly', interval: 2 });
    expect(take(rec, rec.anchor, 3)).toEqual([
      '2026-01-10T06:15:00.000Z',
      '2026-01-10T08:15:00.000Z',
      '2026-01-10T10:15:00.000Z',
    ]);
    expect(take(rec, at('2026-01-11T03:00:00Z'), 2)).toEqual(['2026-01-11T04:15:00.000Z', '2026-01-11T06:15:00.000Z']);
  });

  it('interval 5 counts absolute hours from the anchor, also across DST', () => {
    const rec = compile('2026-01-10T01:15:00', NY, { frequency: 'hourly', interval: 5 });
    expect(take(rec, rec.anchor, 5)).toEqual([
      '2026-01-10T06:15:00.000Z',
      '2026-01-10T11:15:00.000Z',
      '2026-01-10T16:15:00.000Z',
      '2026-01-10T21:15:00.000Z',
      '2026-01-11T02:15:00.000Z',
    ]);
    const dst = compile('2026-03-07T23:15:00', NY, { frequency: 'hourly', interval: 5 });
    expect(take(dst, dst.anchor, 3)).toEqual([
      '2026-03-08T04:15:00.000Z',
      '2026-03-08T09:15:00.000Z',
      '2026-03-08T14:15:00.000Z',
    ]);
  });
});

describe('weekly and monthly schedules', () => {
  it('weekly on Monday and Wednesday', () => {
    const rec = compile('2026-01-05T10:00:00', NY, { frequency: 'weekly', days_of_week: [1, 3] });
    expect(take(rec, rec.anchor, 5)).toEqual([
      '2026-01-05T15:00:00.000Z',
      '2026-01-07T15:00:00.000Z',
      '2026-01-12T15:00:00.000Z',
      '2026-01-14T15:00:00.000Z',
      '2026-01-19T15:00:00.000Z',
    ]);
  });

  it('weekly starting on a day not in days_of_week first fires on the next listed day', () => {
    const start = resolveScheduledTime('2026-01-06T10:00:00', NY);
    const rec = compileRecurrence(start, NY, { enabled: true, frequency: 'weekly', days_of_week: [1, 3] });
    expect(firstOccurrence(start, rec)?.toISOString()).toBe('2026-01-07T15:00:00.000Z');
  });

  it('every 2 weeks on Monday and Wednesday, counted in ISO weeks from the start week', () => {
    const rec = compile('2026-01-05T10:00:00', NY, { frequency: 'weekly', interval: 2, days_of_week: [1, 3] });
    expect(take(rec, rec.anchor, 5)).toEqual([
      '2026-01-05T15:00:00.000Z',
      '2026-01-07T15:00:00.000Z',
      '2026-01-19T15:00:00.000Z',
      '2026-01-21T15:00:00.000Z',
      '2026-02-02T15:00:00.000Z',
    ]);
  });

  it('every 2 weeks on Sunday keeps the anchor week', () => {
    const rec = compile('2026-01-04T10:00:00', NY, { frequency: 'weekly', interval: 2 });
    expect(take(rec, rec.anchor, 3)).toEqual([
      '2026-01-04T15:00:00.000Z',
      '2026-01-18T15:00:00.000Z',
      '2026-02-01T15:00:00.000Z',
    ]);
  });

  it('monthly on the 15th keeps local time across DST', () => {
    const rec = compile('2026-01-15T09:00:00', NY, { frequency: 'monthly' });
    expect(take(rec, rec.anchor, 4)).toEqual([
      '2026-01-15T14:00:00.000Z',
      '2026-02-15T14:00:00.000Z',
      '2026-03-15T13:00:00.000Z',
      '2026-04-15T13:00:00.000Z',
    ]);
  });

  it('every 2 months on the 15th', () => {
    const rec = compile('2026-01-15T09:00:00', NY, { frequency: 'monthly', interval: 2 });
    expect(take(rec, rec.anchor, 4)).toEqual([
      '2026-01-15T14:00:00.000Z',
      '2026-03-15T13:00:00.000Z',
      '2026-05-15T13:00:00.000Z',
      '2026-07-15T13:00:00.000Z',
    ]);
  });

  it('monthly on the 31st skips months without one (cron semantics)', () => {
    const rec = compile('2026-01-31T09:00:00', NY, { frequency: 'monthly' });
    expect(take(rec, rec.anchor, 3)).toEqual([
      '2026-01-31T14:00:00.000Z',
      '2026-03-31T13:00:00.000Z',
      '2026-05-31T13:00:00.000Z',
    ]);
  });
});

describe('cron schedules', () => {
  it('*/15 9-17 on weekdays', () => {
    const rec = cronRec('*/15 9-17 * * 1-5', NY);
    // Friday 2026-01-09 17:40 local.
    expect(take(rec, at('2026-01-09T22:40:00Z'), 4)).toEqual([
      '2026-01-09T22:45:00.000Z',
      '2026-01-12T14:00:00.000Z',
      '2026-01-12T14:15:00.000Z',
      '2026-01-12T14:30:00.000Z',
    ]);
    const week = occurrencesBetween(rec, at('2026-01-12T05:00:00Z'), at('2026-01-17T05:00:00Z'), 1000);
    expect(week).toHaveLength(5 * 9 * 4);
    expect(week[week.length - 1].toISOString()).toBe('2026-01-16T22:45:00.000Z');
  });

  it('ORs day-of-month and day-of-week when both are restricted', () => {
    const rec = cronRec('0 9 1 * 1', NY);
    expect(take(rec, at('2026-01-01T00:00:00Z'), 4)).toEqual([
      '2026-01-01T14:00:00.000Z',
      '2026-01-05T14:00:00.000Z',
      '2026-01-12T14:00:00.000Z',
      '2026-01-19T14:00:00.000Z',
    ]);
  });

  it('ANDs them when day-of-month starts with *', () => {
    const rec = cronRec('0 9 */2 * 1', NY);
    expect(take(rec, at('2026-01-01T00:00:00Z'), 3)).toEqual([
      '2026-01-05T14:00:00.000Z',
      '2026-01-19T14:00:00.000Z',
      '2026-02-09T14:00:00.000Z',
    ]);
  });

  it('treats day-of-week 7 as Sunday and accepts names and aliases', () => {
    expect(take(cronRec('0 9 * * 7', 'UTC'), at('2026-01-01T00:00:00Z'), 1)).toEqual(['2026-01-04T09:00:00.000Z']);
    expect(take(cronRec('0 9 * JAN SUN', 'UTC'), at('2026-01-01T00:00:00Z'), 1)).toEqual(['2026-01-04T09:00:00.000Z']);
    expect(take(cronRec('@daily', SYDNEY), at('2026-01-01T00:00:00Z'), 2)).toEqual([
      '2026-01-01T13:00:00.000Z',
      '2026-01-02T13:00:00.000Z',
    ]);
  });

  it('finds a sparse Feb 29 schedule two years ahead', () => {
    const rec = cronRec('0 9 29 2 *', NY);
    const next = nextOccurrence(rec, at('2026-03-01T00:00:00Z'));
    expect(next?.toISOString()).toBe('2028-02-29T14:00:00.000Z');
  });

  // Its speed is a bench figure, not a test's: a timed assertion fails on a loaded machine.
  it('walks 1,000 occurrences of a dense schedule, one minute apart', () => {
    const everyMinute = cronRec('* * * * *', NY);
    const daily = cronRec('0 9 * * *', NY);
    let after = at('2026-01-01T00:00:00Z');
    for (let i = 0; i < 1000; i++) {
      const next = nextOccurrence(everyMinute, after);
      expect(next && next.getTime() - after.getTime()).toBe(60_000);
      after = next ?? after;
      expect(nextOccurrence(daily, after)).not.toBeNull();
    }
    expect(after.toISOString()).toBe('2026-01-01T16:40:00.000Z');
  });
});

describe('occurrencesBetween', () => {
  const rec = compile('2026-01-01T09:00:00', NY, { frequency: 'daily' });

  it('includes from, excludes to and honours the limit', () => {
    expect(iso(occurrencesBetween(rec, at('2026-01-01T14:00:00Z'), at('2026-01-04T14:00:00Z'), 10))).toEqual([
      '2026-01-01T14:00:00.000Z',
      '2026-01-02T14:00:00.000Z',
      '2026-01-03T14:00:00.000Z',
    ]);
    expect(occurrencesBetween(rec, at('2026-01-01T00:00:00Z'), at('2026-02-01T00:00:00Z'), 5)).toHaveLength(5);
    expect(occurrencesBetween(rec, at('2026-01-01T15:00:00Z'), at('2026-01-02T14:00:00Z'), 5)).toEqual([]);
  });
});
