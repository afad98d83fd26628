import type { Cluster, CreatedOccurrence, ScenarioResult } from './harness';
import { fail } from './harness';
import { sleep } from './util';

const FINAL = new Set(['completed', 'failed', 'missed']);
// Longer than the slowest repair the cluster is set up for (harness env): a call whose final callback was
// lost is fetched from the provider CALL_RECONCILE_AFTER_MINUTES (2) after its last update, on the next 30 s
// tick of the reconcile job. Judging sooner fails runs the product would have finished.
const STALL_MS = 180_000;
// A quick scenario's settle deadline: the stall window plus the minute a burst needs to drain first.
export const QUICK_SETTLE_MS = STALL_MS + 60_000;

export interface OccurrenceVerdict {
  id: string;
  phone: string;
  status: string;
  claim: string | null;
  claimDetail: string | null;
  providerCalls: number;
  // stuck: handled (dialed, or its claim settled) but the schedule never reached a final state;
  // open: neither dialed nor recorded in any way (lost, if it stays so).
  verdict: 'final' | 'unknown_reconciled' | 'stuck' | 'open';
}

export interface Judgement {
  verdicts: OccurrenceVerdict[];
  byStatus: Record<string, number>;
  byClaim: Record<string, number>;
  lost: OccurrenceVerdict[];
  duplicated: OccurrenceVerdict[];
  unknownReconciled: OccurrenceVerdict[];
  // The provider created a call although we recorded the occurrence as not dialed (or the reverse).
  inconsistent: OccurrenceVerdict[];
  // Handled, but the one-time schedule still reads pending/running.
  stuck: OccurrenceVerdict[];
  // Set when settle() gave up at its deadline: what was still open, and the fake's callback figures.
  capped?: { open: number; callbacks_pending: number; oldest_pending_s: number; attempts: Record<string, number> };
}

interface ScheduleDoc {
  _id: unknown;
  status: string;
  phone: string;
  last_call_status?: string | null;
}
interface ClaimDoc {
  schedule_id: string;
  attempt_number: number;
  deferral?: number;
  state: string;
  detail: string | null;
}

// Reads where every occurrence ended: our own database for its state, the fake provider's record for
// how many calls were really placed to its (unique) number.
// dialedIsFinal: the fake sends no callbacks, so a recorded dial the provider confirms is where an occurrence ends.
export async function judge(cluster: Cluster, occurrences: CreatedOccurrence[], dialedIsFinal = false): Promise<Judgement> {
  const db = cluster.mongo.db();
  const schedules = (await db.collection<ScheduleDoc>('call_schedules').find({}).toArray()) as ScheduleDoc[];
  const claims = (await db.collection<ClaimDoc>('occurrence_claims').find({}).toArray()) as ClaimDoc[];
  const byId = new Map(schedules.map((s) => [String(s._id), s]));
  const claimOf = new Map<string, ClaimDoc>();
  // An occurrence's first attempt ends with its latest run: a run deferred to calling hours, or dialed again
  // after its dispatcher died unsent, claims deferral n+1.
  for (const c of claims) {
    if ((c.attempt_number ?? 1) !== 1) continue;
    const seen = claimOf.get(c.schedule_id);
    if (!seen || (c.deferral ?? 0) > (seen.deferral ?? 0)) claimOf.set(c.schedule_id, c);
  }
  const created = cluster.twilio.createdByPhone();

  const verdicts: OccurrenceVerdict[] = occurrences.map((o) => {
    const s = byId.get(o.id);
    const claim = claimOf.get(o.id) ?? null;
    const providerCalls = created.get(o.phone)?.length ?? 0;
    const status = s?.status ?? 'absent';
    let verdict: OccurrenceVerdict['verdict'];
    if (claim?.state === 'unknown') verdict = 'unknown_reconciled';
    else if (FINAL.has(status) || (dialedIsFinal && claim?.state === 'dialed' && providerCalls === 1)) verdict = 'final';
    else if (providerCalls > 0 || (claim && ['missed', 'failed', 'skipped', 'dialed'].includes(claim.state))) verdict = 'stuck';
    else verdict = 'open';
    return { id: o.id, phone: o.phone, status, claim: claim?.state ?? null, claimDetail: claim?.detail ?? null, providerCalls, verdict };
  });
  const count = (key: (v: OccurrenceVerdict) => string) =>
    verdicts.reduce<Record<string, number>>((acc, v) => ((acc[key(v)] = (acc[key(v)] ?? 0) + 1), acc), {});
  return {
    verdicts,
    byStatus: count((v) => v.status),
    byClaim: count((v) => v.claim ?? 'none'),
    lost: verdicts.filter((v) => v.verdict === 'open' || (v.status === 'completed' && v.providerCalls === 0)),
    duplicated: verdicts.filter((v) => v.providerCalls > 1),
    unknownReconciled: verdicts.filter((v) => v.verdict === 'unknown_reconciled' && v.providerCalls <= 1),
    inconsistent: verdicts.filter(
      (v) => (v.providerCalls > 0 && (v.status === 'missed' || v.claim === 'missed' || (v.claim === 'failed' && /not_placed/.test(v.claimDetail ?? '')))) || (v.providerCalls === 0 && v.claim === 'dialed'),
    ),
    stuck: verdicts.filter((v) => v.verdict === 'stuck'),
  };
}

// Waits until every occurrence has settled (final status, or a settled claim) and the fake provider has
// no callback left to send, or until the deadline; returns the judgement at that point.
export async function settle(cluster: Cluster, occurrences: CreatedOccurrence[], timeoutMs: number, log?: (line: string) => void, dialedIsFinal = false): Promise<Judgement> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  let lastChange = Date.now();
  let lastShape = '';
  for (;;) {
    let j: Judgement | null = null;
    try {
      j = await judge(cluster, occurrences, dialedIsFinal);
    } catch (error) {
      log?.(`  judge read failed (${String(error)}); retrying`);
    }
    if (j) {
      const open = j.verdicts.filter((v) => v.verdict === 'open' || v.verdict === 'stuck').length;
      if (open === 0 && cluster.twilio.callbacksPending === 0) return j;
      if (Date.now() >= deadline) {
        const twilio = cluster.twilio;
        j.capped = { open, callbacks_pending: twilio.callbacksPending, oldest_pending_s: Math.round(twilio.oldestPendingCallbackMs / 1000), attempts: { ...twilio.callbackAttempts } };
        log?.(`  settle gave up after ${Math.round(timeoutMs / 1000)} s: ${JSON.stringify(j.capped)}`);
        return j;
      }
      // Nothing moved for longer than any reconciler needs to act: what is still open stays open.
      const shape = JSON.stringify([j.byStatus, j.byClaim, cluster.twilio.callbacksPending, cluster.twilio.creates.length]);
      if (shape !== lastShape) [lastShape, lastChange] = [shape, Date.now()];
      else if (cluster.twilio.callbacksPending === 0 && Date.now() - lastChange > STALL_MS) {
        log?.(`  no progress for ${STALL_MS / 1000} s: judging now`);
        return j;
      }
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        const twilio = cluster.twilio;
        const oldest = twilio.callbacksPending > 0 ? ` (oldest ${Math.round(twilio.oldestPendingCallbackMs / 1000)} s; attempts ${JSON.stringify(twilio.callbackAttempts)})` : '';
        log?.(`  waiting: ${open} open, statuses ${JSON.stringify(j.byStatus)}, callbacks pending ${twilio.callbacksPending}${oldest}`);
      }
    }
    await sleep(2000);
  }
}

// Fills the table's figures from a judgement and fails the scenario on any loss, double dial or
// record that contradicts the provider.
export function score(r: ScenarioResult, j: Judgement, occurrences: number, cluster?: Cluster): void {
  r.occurrences = occurrences;
  r.lost = j.lost.length;
  r.duplicated = j.duplicated.length;
  r.unknownReconciled = j.unknownReconciled.length;
  r.details.by_status = j.byStatus;
  r.details.by_claim = j.byClaim;
  if (j.capped) {
    r.details.settle_capped = j.capped;
    r.notes.push(`settle gave up at its deadline: ${JSON.stringify(j.capped)}`);
  }
  const burst = r.details.burst ? ` (burst ${JSON.stringify(r.details.burst)})` : '';
  r.notes.push(`statuses ${JSON.stringify(j.byStatus)}; claims ${JSON.stringify(j.byClaim)}${burst}`);
  if (j.lost.length > 0) fail(r, `${j.lost.length} occurrence(s) lost, e.g. ${JSON.stringify(j.lost.slice(0, 3))}`);
  if (j.duplicated.length > 0) fail(r, `${j.duplicated.length} occurrence(s) dialed more than once at the provider, e.g. ${JSON.stringify(j.duplicated.slice(0, 3))}`);
  if (j.inconsistent.length > 0) {
    fail(r, `${j.inconsistent.length} occurrence(s) recorded against the provider's record, e.g. ${JSON.stringify(j.inconsistent.slice(0, 3))}`);
    r.details.inconsistent = j.inconsistent;
  }
  if (j.stuck.length > 0) {
    fail(r, `${j.stuck.length} occurrence(s) handled but their schedule never reached a final state (left ${[...new Set(j.stuck.map((v) => v.status))].join('/')}), e.g. ${JSON.stringify(j.stuck.slice(0, 3))}`);
    r.details.stuck = j.stuck;
  }
  const crashes = cluster?.crashes() ?? [];
  if (crashes.length > 0) {
    fail(r, `${crashes.length} service instance(s) crashed on their own: ${crashes.join('; ')}`);
    r.details.crashes = crashes;
  }
  if (j.lost.length > 0) r.details.lost = j.lost;
  if (j.duplicated.length > 0) r.details.duplicated = j.duplicated;
}

// Call statuses whose notification is stored before the outcome is marked recorded (decision 0020), and
// the event each one is notified as.
const NOTIFIED_FINAL: Record<string, string> = { completed: 'call.completed', busy: 'call.busy', no_answer: 'call.no_answer' };

export interface NotificationJudgement {
  // Final calls of the occurrences whose outcome is marked recorded.
  checked: number;
  missing: string[];
  duplicated: string[];
  // Final, but not marked yet: the outcome sweep still has them to redo.
  unmarked: number;
  // Dialed claims, each of which has exactly one call.dispatched (decision 0021).
  dialed: number;
  dispatchMissing: string[];
  dispatchDuplicated: string[];
}

// Every final call whose outcome is marked recorded has exactly one notification of it, and of its one-time
// schedule's end, in the event history, however the instances were killed on the way.
export async function judgeNotifications(cluster: Cluster, occurrences: CreatedOccurrence[]): Promise<NotificationJudgement> {
  const db = cluster.mongo.db();
  const ids = new Set(occurrences.map((o) => o.id));
  const logs = (await db.collection('call_logs').find({ status: { $in: Object.keys(NOTIFIED_FINAL) } }).toArray()).filter((l) => ids.has(String(l.schedule_id)));
  const events = await db.collection('notification_events').find({ type: { $in: [...Object.values(NOTIFIED_FINAL), 'schedule.completed', 'schedule.failed'] } }).toArray();
  const perKey = new Map<string, number>();
  for (const e of events) {
    const { call_log_id, schedule_id } = e.data as { call_log_id?: string; schedule_id?: string };
    const key = String(e.type).startsWith('schedule.') ? `schedule_end|${schedule_id}` : `${e.type}|${call_log_id}`;
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
  }
  const marked = logs.filter((l) => l.outcome_recorded_at);
  const dialed = (await db.collection('occurrence_claims').find({ state: 'dialed' }).toArray()).filter((c) => ids.has(String(c.schedule_id)));
  const dispatched = new Map<string, number>();
  for (const e of await db.collection('notification_events').find({ type: 'call.dispatched' }).toArray()) {
    const logId = String((e.data as { call_log_id?: string }).call_log_id);
    dispatched.set(logId, (dispatched.get(logId) ?? 0) + 1);
  }
  const dispatchesOf = (c: (typeof dialed)[number]) => dispatched.get(String(c.call_log_id)) ?? 0;
  // Each marked final call has its own event, and its one-time schedule's end one event.
  const countsOf = (l: (typeof logs)[number]) => [
    perKey.get(`${NOTIFIED_FINAL[l.status as string]}|${String(l._id)}`) ?? 0,
    perKey.get(`schedule_end|${String(l.schedule_id)}`) ?? 0,
  ];
  return {
    checked: marked.length,
    missing: marked.filter((l) => Math.min(...countsOf(l)) === 0).map((l) => `${String(l._id)} (${l.status}; call event ${countsOf(l)[0]}, schedule end ${countsOf(l)[1]})`),
    duplicated: marked.filter((l) => Math.max(...countsOf(l)) > 1).map((l) => String(l._id)),
    unmarked: logs.length - marked.length,
    dialed: dialed.length,
    dispatchMissing: dialed.filter((c) => dispatchesOf(c) === 0).map((c) => String(c.call_log_id)),
    dispatchDuplicated: dialed.filter((c) => dispatchesOf(c) > 1).map((c) => String(c.call_log_id)),
  };
}

export function scoreNotifications(r: ScenarioResult, n: NotificationJudgement): void {
  r.details.notifications = { final_calls_checked: n.checked, missing: n.missing.length, duplicated: n.duplicated.length, not_yet_marked: n.unmarked };
  r.notes.push(`final-call notifications: ${n.checked} checked, ${n.missing.length} missing, ${n.duplicated.length} duplicated, ${n.unmarked} outcome(s) not yet marked`);
  if (n.missing.length > 0) fail(r, `${n.missing.length} final call(s) marked recorded without their notification, e.g. call logs ${n.missing.slice(0, 3).join(', ')}`);
  if (n.duplicated.length > 0) fail(r, `${n.duplicated.length} final call(s) notified more than once, e.g. call logs ${n.duplicated.slice(0, 3).join(', ')}`);
  r.details.dispatch_notifications = { dialed_claims_checked: n.dialed, missing: n.dispatchMissing.length, duplicated: n.dispatchDuplicated.length };
  r.notes.push(`call.dispatched: ${n.dialed} dialed claims checked, ${n.dispatchMissing.length} missing, ${n.dispatchDuplicated.length} duplicated`);
  if (n.dispatchMissing.length > 0) fail(r, `${n.dispatchMissing.length} dialed claim(s) without their call.dispatched, e.g. call logs ${n.dispatchMissing.slice(0, 3).join(', ')}`);
  if (n.dispatchDuplicated.length > 0) fail(r, `${n.dispatchDuplicated.length} dialed claim(s) with call.dispatched more than once, e.g. call logs ${n.dispatchDuplicated.slice(0, 3).join(', ')}`);
}

