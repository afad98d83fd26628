import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { isDeepStrictEqual } from 'node:util';
import { Model, Types } from 'mongoose';
import { CoalescedDeletes, CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { insertedUnlessDuplicate, isDuplicateKeyError, op, toObjectId } from '../common/mongo/mongo-query';
import { changesNothing, withoutUndefined, WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { ClaimDecision, ClaimDecisionDoc } from './schemas/claim-decision.schema';
import { ClaimEndingDoc } from './schemas/claim-ending.schema';
import { OCCURRENCE_CLAIM_WRITE_GATE, OccurrenceClaimDoc } from './schemas/occurrence-claim.schema';
import { CLAIM_TRANSITIONS, ClaimTransition, IN_FLIGHT_CLAIM_STATES, RELEASABLE_CLAIM_STATES, SETTLED_CLAIM_STATES } from './occurrence-claim.transitions';
import { ClaimEnding, ClaimState, OccurrenceClaim } from './schedule.types';

type LeanClaim = OccurrenceClaimDoc & { _id: Types.ObjectId; rev?: number | null };
type LeanEnding = Omit<ClaimEnding, 'claim_id'> & { _id: string };

function toClaim({ _id, run_id: _run, rev: _rev, ...rest }: LeanClaim): OccurrenceClaim {
  // Claims written before outcome retries existed have no attempt number: they were attempt 1.
  return { id: _id.toHexString(), ...(rest as Omit<OccurrenceClaim, 'id'>), attempt_number: rest.attempt_number ?? 1, deferral: rest.deferral ?? 0, transition: rest.transition ?? null };
}

export type ClaimResult = { won: true; claim: OccurrenceClaim } | { won: false };
export interface DecisionRecord {
  decision: ClaimDecision;
  decided_at: Date;
}

export interface ClaimOccurrenceInput {
  scheduleId: string;
  tenantId: string;
  occurrenceAt: Date;
  attemptNumber?: number;
  deferral?: number;
  state: ClaimState;
  instance: string;
  now: Date;
  detail?: string;
  runId?: string;
  // An earlier insert of this run may have landed (its reply was lost).
  repeat?: boolean;
  callLogId?: string;
}

@Injectable()
export class OccurrenceClaimRepository {
  // The dispatcher and the reconciler both move a claim's state: one at a time, through the gate.
  private readonly gate: WriteGate<LeanClaim>;
  // A burst of due occurrences claims and decides many at once: one insertMany each.
  private readonly claimInserts: CoalescedInserts<OccurrenceClaimDoc>;
  private readonly decisionInserts: CoalescedInserts<ClaimDecisionDoc>;
  private readonly endingInserts: CoalescedInserts<ClaimEndingDoc>;
  // A burst of skips or refusals ends many runs at once: their endings go in one deleteMany.
  private readonly endingDeletes: CoalescedDeletes<ClaimEndingDoc>;

  constructor(
    @InjectModel(OccurrenceClaimDoc.name) private readonly claims: Model<OccurrenceClaimDoc>,
    @InjectModel(ClaimDecisionDoc.name) private readonly decisions: Model<ClaimDecisionDoc>,
    @InjectModel(ClaimEndingDoc.name) private readonly endings: Model<ClaimEndingDoc>,
    @InjectModel(OCCURRENCE_CLAIM_WRITE_GATE) gates: Model<WriteGateDoc>,
  ) {
    this.gate = new WriteGate<LeanClaim>(claims, gates);
    this.claimInserts = new CoalescedInserts(claims);
    this.decisionInserts = new CoalescedInserts(decisions);
    this.endingInserts = new CoalescedInserts(endings);
    this.endingDeletes = new CoalescedDeletes(endings);
  }

  async findById(id: string): Promise<OccurrenceClaim | null> {
    const _id = toObjectId(id);
    const doc = _id ? await this.claims.findById(_id).lean<LeanClaim>() : null;
    return doc ? toClaim(doc) : null;
  }

  // Stored before the claim moves (ClaimEndingDoc). A repeat (a lost reply, or the first try's) is a
  // refused insert, and the first stays.
  async openEnding(ending: ClaimEnding): Promise<void> {
    const { claim_id, ...rest } = ending;
    await insertedUnlessDuplicate(() => this.endingInserts.insert({ _id: claim_id, ...rest }));
  }

  async closeEnding(claimId: string): Promise<void> {
    await this.endingDeletes.delete(claimId);
  }

  // Endings stored before `before` and still there: their runs stopped, or are still writing.
  async endingsOpenedBefore(before: Date, limit: number): Promise<ClaimEnding[]> {
    const docs = await this.endings.find({ at: op({ $lt: before }) }).sort({ at: 1 }).limit(limit).lean<LeanEnding[]>();
    return docs.map(({ _id, ...rest }) => ({ claim_id: _id, ...rest }));
  }

  // The exactly-once gate: a duplicate key means another run already owns this occurrence.
  // `runId` with `repeat` lets a repeated insert (the first one's reply lost to a connection error) find its
  // own claim. Only a repeat reads the claim it collided with: a first insert's duplicate is another run's,
  // and on FerretDB that read scans occurrence_claims, once for every occurrence instances race for.
  // `callLogId`: the id the attempt's call log will be created under, named here so that the claim needs no
  // second write once the log exists (a claim whose run stopped before creating it names a log that never was).
  async claimOccurrence(input: ClaimOccurrenceInput): Promise<ClaimResult> {
    try {
      const doc = await this.claimInserts.insert<LeanClaim>({
        schedule_id: input.scheduleId,
        tenant_id: input.tenantId,
        occurrence_at: input.occurrenceAt,
        attempt_number: input.attemptNumber ?? 1,
        deferral: input.deferral ?? 0,
        state: input.state,
        claimed_by: input.instance,
        claimed_at: input.now,
        run_id: input.runId ?? null,
        detail: input.detail ?? null,
        call_log_id: input.callLogId ?? null,
        updated_at: input.now,
      });
      return { won: true, claim: toClaim(this.gate.remember(doc)) };
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      if (!input.runId || !input.repeat) return { won: false };
      const existing = await this.claims
        .findOne({ schedule_id: input.scheduleId, occurrence_at: input.occurrenceAt, attempt_number: input.attemptNumber ?? 1, deferral: input.deferral ?? 0 })
        .lean<LeanClaim>();
      return existing?.run_id === input.runId ? { won: true, claim: toClaim(existing) } : { won: false };
    }
  }

  // One of CLAIM_TRANSITIONS; false when the claim is no longer in a state the move leaves.
  async move(id: string, transition: ClaimTransition, set: Partial<Pick<OccurrenceClaim, 'call_log_id' | 'call_id' | 'provider' | 'detail'>>, now: Date): Promise<boolean> {
    if (transition === 'placed' && (await this.placedWithOthers(id, set, now))) return true;
    const { from, to } = CLAIM_TRANSITIONS[transition];
    const change: Record<string, unknown> = { ...set, state: to, transition, updated_at: now };
    // The state is checked on the gated read: of the dispatcher and the reconciler, only one moves it from `from`.
    // A claim already at `to` with exactly this change, the transition and updated_at included, was moved by
    // this same call before: a retry whose first reply was lost. It counts as moved, so its mover still
    // records the outcome (the reconciler, which took the outcome meanwhile, saw its own move refused and
    // recorded nothing). The dispatcher's and the reconciler's transitions are disjoint, so the other
    // writer's move never matches, even in the same millisecond.
    const _id = new Types.ObjectId(id);
    const res = await this.gate.update(_id, async (c) => {
      if ((from as readonly ClaimState[]).includes(c.state as ClaimState)) return change;
      if (c.state !== to) return null;
      // A grouped placed move (placedWithOthers) writes its group's earliest time, and records its own
      // change, time included, in the gate it won: a placed move is told by its gate while the gate is kept
      // (KEEP_GATES_MS), and only then by the claim itself.
      const recorded = transition === 'placed' && c.transition === 'placed' ? await this.gate.recordedChange(_id, (c.rev ?? 1) - 1) : null;
      const mine = recorded ? isDeepStrictEqual(recorded, withoutUndefined(change)) : changesNothing(c as unknown as Record<string, unknown>, change);
      return mine ? { state: to, transition } : null;
    });
    return res !== null;
  }

  // A burst's calls are placed within moments of each other: the claims this instance holds move to dialed
  // together, in one statement for those whose moves meet (WriteGate.updateGrouped), which on FerretDB reads
  // only this instance's claims in flight instead of the whole collection. So the move carries nothing that
  // differs from claim to claim (the call's id is its log's). From a remembered `claimed` copy only; false
  // leaves the move to the gated update below.
  private async placedWithOthers(id: string, set: Partial<Pick<OccurrenceClaim, 'call_log_id' | 'call_id' | 'provider' | 'detail'>>, now: Date): Promise<boolean> {
    if (set.provider === undefined || set.call_id !== undefined || set.call_log_id !== undefined || set.detail !== undefined) return false;
    const copy = this.gate.recall(new Types.ObjectId(id));
    if (!copy || copy.state !== 'claimed') return false;
    const provider = set.provider;
    const res = await this.gate.updateGrouped(copy, {
      key: `placed|${provider}|${copy.claimed_by}`,
      where: { state: 'claimed', claimed_by: copy.claimed_by },
      set: { provider, state: CLAIM_TRANSITIONS.placed.to, transition: 'placed' },
      stamp: { field: 'updated_at', at: now },
    });
    return res?.changed === true;
  }

  // Only for a claim whose run dialed nothing (its schedule changed under it): frees the occurrence.
  async releaseUndialed(id: string): Promise<void> {
    await this.claims.deleteOne({ _id: new Types.ObjectId(id), state: op({ $in: RELEASABLE_CLAIM_STATES }) });
  }

  // Dial or give up, decided once per claim by whoever inserts first; the loser gets the winner's decision
  // and when it was made. Idempotent: a caller that repeats its own insert (a lost reply) reads back its own.
  async decide(claimId: string, decision: ClaimDecision, by: string, now: Date): Promise<DecisionRecord> {
    const { decided_by: _by, ...record } = await this.firstDecision(claimId, decision, by, now);
    return record;
  }

  // The reconciler's decision to dial a given-up claim's occurrence again, recorded once, before its job is
  // written: a later pass that finds the claim still stuck (the first was cut off) keeps to it instead of
  // deciding afresh, say that the occurrence is missed while the re-dial is already under way.
  async recordRedial(claimId: string, by: string, now: Date): Promise<void> {
    await insertedUnlessDuplicate(() => this.decisions.create({ _id: `${claimId}:redial`, decision: 'redial', decided_by: by, decided_at: now }));
  }

  async redialRecorded(claimId: string): Promise<boolean> {
    return (await this.decisions.exists({ _id: `${claimId}:redial` })) !== null;
  }

  // A request after an attempt's first (a retry) leaves under ticket n, taken right before it; the first
  // request's ticket is the dial decision. Idempotent for its taker.
  async takeSendTicket(claimId: string, n: number, by: string, now: Date): Promise<boolean> {
    return (await this.firstDecision(`${claimId}:send:${n}`, 'send', by, now)).decided_by === by;
  }

  // Takes the first ticket nobody holds, so that no request of the claim's attempt leaves after it (the
  // dispatcher takes its tickets in order and stops at one it cannot take). Returns the latest of when the
  // fence was taken and when each ticket below it was asked for: the last request left within
  // SEND_TICKET_VALID_MS of that. A pass that comes back finds its earlier fence and the same tickets.
  async fenceSends(claimId: string, by: string, now: Date): Promise<Date> {
    let latest = 0;
    for (let n = 2; ; n++) {
      const holder = await this.firstDecision(`${claimId}:send:${n}`, 'fence', by, now);
      latest = Math.max(latest, new Date(holder.decided_at).getTime());
      if (holder.decision === 'fence') return new Date(latest);
    }
  }

  // Who records a dial's outcome when both its dispatcher and the reconciler's lookup could, taken once by
  // unique insert. Idempotent for its taker.
  async takeOutcome(claimId: string, by: string, now: Date): Promise<boolean> {
    return (await this.firstDecision(`${claimId}:outcome`, 'outcome', by, now)).decided_by === by;
  }

  // The first insert under `_id` wins, and every caller gets the winner's record.
  private async firstDecision(_id: string, decision: ClaimDecision, by: string, now: Date): Promise<DecisionRecord & { decided_by: string }> {
    if (await insertedUnlessDuplicate(() => this.decisionInserts.insert({ _id, decision, decided_by: by, decided_at: now }))) return { decision, decided_by: by, decided_at: now };
    const stored = await this.decisions.findById(_id).lean<DecisionRecord & { decided_by: string }>();
    if (!stored) throw new Error(`claim decision ${_id}: the insert reported a duplicate but none is stored`);
    return { decision: stored.decision, decided_by: stored.decided_by, decided_at: stored.decided_at };
  }

  // Who took the outcome of a claim (takeOutcome), or null while nobody has.
  async outcomeTakenBy(claimId: string): Promise<string | null> {
    const stored = await this.decisions.findById(`${claimId}:outcome`).lean<{ decided_by: string }>();
    return stored?.decided_by ?? null;
  }

  // The claim's dial or give-up decision and when it was made, or null while undecided.
  async decisionOf(claimId: string): Promise<DecisionRecord | null> {
    const stored = await this.decisions.findById(claimId).lean<DecisionRecord>();
    return stored ? { decision: stored.decision, decided_at: stored.decided_at } : null;
  }

  // One equality count per state instead of `state: {$in}`: FerretDB pushes down only equalities, and
  // the {schedule_id, state} index serves each count on MongoDB. This is on every recurring dial.
  async countInFlight(scheduleId: string): Promise<number> {
    const counts = await Promise.all(IN_FLIGHT_CLAIM_STATES.map((state) => this.claims.countDocuments({ schedule_id: scheduleId, state })));
    return counts.reduce((a, b) => a + b, 0);
  }

  async findStuck(before: Date, limit: number): Promise<OccurrenceClaim[]> {
    const docs = await this.claims
      .find({ state: op({ $in: IN_FLIGHT_CLAIM_STATES }), claimed_at: op({ $lt: before }) })
      .sort({ claimed_at: 1 })
      .limit(limit)
      .lean<LeanClaim[]>();
    return docs.map(toClaim);
  }

  // Whether a later run of the claim's occurrence (a retry's attempt, a deferral's or re-dial's run) has
  // claimed it: the schedule is then that run's, not this claim's.
  async laterRunClaimed(claim: Pick<OccurrenceClaim, 'schedule_id' | 'occurrence_at' | 'attempt_number' | 'deferral'>): Promise<boolean> {
    const runs = await this.claims.find({ schedule_id: claim.schedule_id, occurrence_at: claim.occurrence_at }, { attempt_number: 1, deferral: 1 }).lean<LeanClaim[]>();
    return runs.some(({ attempt_number: attempt = 1, deferral = 0 }) => attempt > claim.attempt_number || (attempt === claim.attempt_number && deferral > claim.deferral));
  }

  async findForSchedule(scheduleId: string, limit: number): Promise<OccurrenceClaim[]> {
    const docs = await this.claims.find({ schedule_id: scheduleId }).sort({ occurrence_at: -1 }).limit(limit).lean<LeanClaim[]>();
    return docs.map(toClaim);
  }

  // Retention: settled claims claimed before `cutoff`, with their decisions, at most `limit` per call.
  // Every dispatch inserts and updates a claim, and on FerretDB each update scans the collection, so it
  // is kept to recent occurrences. Safe to delete: a schedule never moves back to an occurrence it passed,
  // and a retry or deferral claims under a key of its own. Returns how many claims were deleted.
  async deleteSettledBefore(cutoff: Date, limit: number): Promise<number> {
    const ids = (await this.claims.find({ state: op({ $in: SETTLED_CLAIM_STATES }), claimed_at: op({ $lt: cutoff }) }, { _id: 1 }).limit(limit).lean<Array<{ _id: Types.ObjectId }>>()).map((c) => c._id);
    if (ids.length === 0) return 0;
    const names = ids.map((id) => id.toHexString());
    await this.decisions.deleteMany({ _id: op({ $in: [...names, ...names.map((n) => `${n}:redial`), ...names.map((n) => `${n}:outcome`)] }) });
    const res = await this.claims.deleteMany({ _id: op({ $in: ids }), state: op({ $in: SETTLED_CLAIM_STATES }) });
    return res.deletedCount;
  }

  // Send tickets matter for seconds and fences for a few reconcile passes: deleted by age, with an
  // equality on `decision` that FerretDB pushes down. Returns how many were deleted.
  async deleteSendTicketsBefore(cutoff: Date): Promise<number> {
    let deleted = 0;
    for (const decision of ['send', 'fence'] as const) deleted += (await this.decisions.deleteMany({ decision, decided_at: op({ $lt: cutoff }) })).deletedCount;
    return deleted;
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([this.claims.syncIndexes(), this.decisions.syncIndexes(), this.endings.syncIndexes()]);
  }
}
