import { CLAIM_TRANSITIONS, IN_FLIGHT_CLAIM_STATES, SETTLED_CLAIM_STATES } from './occurrence-claim.transitions';
import { CLAIM_STATES, ClaimState } from './schedule.types';

describe('occurrence claim transitions', () => {
  const moves = Object.entries(CLAIM_TRANSITIONS);

  it('never moves a settled claim: the cleanup job deletes them, and the dispatcher and reconciler each own only what they moved out of flight', () => {
    for (const [name, { from }] of moves) {
      expect({ name, leavesSettled: from.filter((state) => SETTLED_CLAIM_STATES.includes(state)) }).toEqual({ name, leavesSettled: [] });
    }
  });

  it('reaches every settled state by a move, and nothing enters `dialing` any more', () => {
    const reached = new Set<ClaimState>(moves.map(([, { to }]) => to));
    for (const state of SETTLED_CLAIM_STATES) expect({ state, reached: reached.has(state) }).toEqual({ state, reached: true });
    expect(reached.has('dialing')).toBe(false);
    expect([...IN_FLIGHT_CLAIM_STATES, ...SETTLED_CLAIM_STATES].sort()).toEqual([...CLAIM_STATES].sort());
  });
});
