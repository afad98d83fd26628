import { isKnownPattern, matchesEventPattern } from './event-pattern';

describe('event patterns', () => {
  it('matches exact names, one-segment wildcards and everything', () => {
    expect(matchesEventPattern('call.*', 'call.answered')).toBe(true);
    expect(matchesEventPattern('call.*', 'schedule.created')).toBe(false);
    expect(matchesEventPattern('schedule.created', 'schedule.created')).toBe(true);
    expect(matchesEventPattern('schedule.created', 'schedule.updated')).toBe(false);
    expect(matchesEventPattern('*', 'call.no_answer')).toBe(true);
    expect(matchesEventPattern('call', 'call.answered')).toBe(false);
    expect(matchesEventPattern('call.answered.x', 'call.answered')).toBe(false);
  });

  it('accepts only patterns that can match a known event', () => {
    expect(isKnownPattern('call.*')).toBe(true);
    expect(isKnownPattern('call.skipped')).toBe(true);
    expect(isKnownPattern('call.exploded')).toBe(false);
    expect(isKnownPattern('billing.*')).toBe(false);
  });
});
