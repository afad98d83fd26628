import { DOMAIN_EVENT_NAMES } from './domain-events';

// Patterns a webhook subscription may name: an exact event, a whole family, or everything.
export const SUBSCRIPTION_PATTERNS: readonly string[] = ['*', 'schedule.*', 'call.*', ...DOMAIN_EVENT_NAMES];

export function isKnownPattern(pattern: string): boolean {
  return SUBSCRIPTION_PATTERNS.includes(pattern);
}

// `*` or `**` alone match every event; otherwise segment by segment, `*` one segment, `**` the rest.
export function matchesEventPattern(pattern: string, type: string): boolean {
  if (pattern === '*' || pattern === '**') return true;
  const want = pattern.split('.');
  const have = type.split('.');
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '**') return true;
    if (i >= have.length || (want[i] !== '*' && want[i] !== have[i])) return false;
  }
  return want.length === have.length;
}

export function matchesAnyPattern(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => matchesEventPattern(p, type));
}
