import { CLAIM_STATES, ClaimState } from './schedule.types';

// A claim's run is still going: counted against SCHEDULER_MAX_INSTANCES, and ended by the reconciler when
// stuck. `dialing` is only read: claims written by older versions may hold it, and it is handled like
// `claimed` with a dial decision.
export const IN_FLIGHT_CLAIM_STATES: readonly ClaimState[] = ['claimed', 'dialing'];
// A claim in any other state is settled: its run has ended, and its schedule has moved past its occurrence.
export const SETTLED_CLAIM_STATES: readonly ClaimState[] = CLAIM_STATES.filter((state) => !IN_FLIGHT_CLAIM_STATES.includes(state));

// A claim is born by a unique insert, as `claimed` (its run dials) or `missed` (late under misfire policy
// skip), and a claim whose schedule changed under it before anything was dialed is deleted (RELEASABLE).
// Every other move is one of these, and only these: OccurrenceClaimRepository.move applies one as a gated
// update that checks `from` on its read, so of the dispatcher and the reconciler only one moves a claim
// out of flight.
export const CLAIM_TRANSITIONS = {
  // Dispatcher.
  log_linked: { from: ['claimed'], to: 'claimed' }, // the call log's id, for a claim inserted without it
  placed: { from: IN_FLIGHT_CLAIM_STATES, to: 'dialed' }, // the provider accepted (or its lookup found) the call
  refused: { from: IN_FLIGHT_CLAIM_STATES, to: 'failed' }, // refused, retries used up, invalid options
  expired: { from: IN_FLIGHT_CLAIM_STATES, to: 'missed' }, // no seat or pacing slot within the start window, or shutdown
  outcome_unknown: { from: IN_FLIGHT_CLAIM_STATES, to: 'unknown' }, // no answer, and no lookup could tell
  skipped: { from: IN_FLIGHT_CLAIM_STATES, to: 'skipped' }, // DNC, safe mode, no calling window
  deferred: { from: IN_FLIGHT_CLAIM_STATES, to: 'deferred' }, // outside calling hours: deferral n+1 is claimed later
  // Reconciler, for a claim stuck in flight.
  given_up: { from: ['claimed'], to: 'missed' }, // its give-up decision won: provably never sent
  found_at_provider: { from: IN_FLIGHT_CLAIM_STATES, to: 'dialed' }, // decided to dial, and the call exists
  not_at_provider: { from: IN_FLIGHT_CLAIM_STATES, to: 'missed' }, // decided to dial, later requests fenced, and no call once every request could have landed
  stuck_after_dial: { from: IN_FLIGHT_CLAIM_STATES, to: 'unknown' }, // decided to dial, and no call to show
} as const satisfies Record<string, { from: readonly ClaimState[]; to: ClaimState }>;

export type ClaimTransition = keyof typeof CLAIM_TRANSITIONS;

// The dispatcher's moves that end a run without a call. Each is stored as the claim's ending before the
// move, and the run's log, schedule, history entry and call event follow it; a run that stops after the
// move leaves the ending for the reconcile pass to finish (ClaimEndingDoc).
export const ENDING_TRANSITIONS = ['refused', 'expired', 'outcome_unknown', 'skipped', 'deferred'] as const satisfies readonly ClaimTransition[];
export type EndingTransition = (typeof ENDING_TRANSITIONS)[number];

export const RELEASABLE_CLAIM_STATES: readonly ClaimState[] = ['claimed', 'missed'];
