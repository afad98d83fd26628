// What a failed dial's recorded error code says about the number, in one place for every provider:
// - refused: the provider did not process the request (429, 5xx, a network failure, or an unanswered request
//   it has no record of), after the dispatcher's own retries; nothing rang, and a later attempt may succeed;
// - invalid_number: the number itself cannot be called; no later attempt will succeed.
export type DialFailureKind = 'refused' | 'invalid_number' | 'other';

const REFUSED_CODES = new Set(['network', 'not_placed', '429', '20429', '20500', '20503']);
// Twilio: 21211 invalid 'To', 21214 'To' cannot be reached, 21217 not a valid number, 21401 invalid number,
// 13223/13224 a number Twilio cannot dial.
const INVALID_NUMBER_CODES = new Set(['21211', '21214', '21217', '21401', '13223', '13224', 'invalid_number']);

export function dialFailureKind(errorCode: string | null | undefined, callPlaced: boolean): DialFailureKind {
  if (!errorCode) return 'other';
  if (INVALID_NUMBER_CODES.has(errorCode)) return 'invalid_number';
  // A placed call that failed rang (or tried to): that is the call's outcome, not a refusal.
  if (!callPlaced && (REFUSED_CODES.has(errorCode) || /^5\d\d$/.test(errorCode))) return 'refused';
  return 'other';
}
