import { Cluster, CreatedOccurrence, createOccurrences, OccurrenceSpec, tokenFor } from './harness';
import { phoneFor } from './util';

export interface BurstPlan {
  scenarioIndex: number;
  count: number;
  // Occurrences come due spread evenly over this window (0: all at one instant).
  windowMs: number;
  misfirePolicy?: (i: number) => 'skip' | 'run_once';
}

export interface Burst {
  occurrences: CreatedOccurrence[];
  dueFrom: number;
  dueTo: number;
  createSeconds: number;
  // Created too late for the planned window (slow creation): due a few seconds after their creation.
  late: number;
}

// Creates `count` one-time schedules through the API, each with its own callee number, due inside one
// window that starts only once all of them exist (creation speed is measured first: on FerretDB a
// create is several writes, and the machine is shared).
export async function createBurst(cluster: Cluster, plan: BurstPlan, log: (l: string) => void): Promise<Burst> {
  const token = tokenFor(cluster.ctx, 'reliability-tenant');
  const probeStart = Date.now();
  const far = new Date(Date.now() + 30 * 24 * 3600_000);
  const probes: OccurrenceSpec[] = Array.from({ length: 6 }, (_, i) => ({ phone: phoneFor(plan.scenarioIndex, 90_000 + i), scheduledTime: far }));
  await createOccurrences(cluster, token, probes);
  const perCreateMs = (Date.now() - probeStart) / probes.length;
  const leadMs = Math.max(8000, plan.count * perCreateMs * 1.5 + 5000);
  const dueFrom = Date.now() + leadMs;
  const specs: OccurrenceSpec[] = Array.from({ length: plan.count }, (_, i) => ({
    phone: phoneFor(plan.scenarioIndex, i),
    scheduledTime: new Date(dueFrom + (plan.count > 1 ? Math.floor((plan.windowMs * i) / (plan.count - 1)) : 0)),
    misfirePolicy: plan.misfirePolicy?.(i) ?? 'skip',
  }));
  const started = Date.now();
  const occurrences = await createOccurrences(cluster, token, specs);
  const createSeconds = (Date.now() - started) / 1000;
  const dueTimes = occurrences.map((o) => o.scheduledTime.getTime());
  const dueTo = Math.max(...dueTimes);
  const late = occurrences.filter((o, i) => o.scheduledTime.getTime() !== specs[i].scheduledTime.getTime()).length;
  log(
    `  created ${plan.count} schedules in ${createSeconds.toFixed(1)} s (${perCreateMs.toFixed(0)} ms per create measured); due from +${((dueFrom - Date.now()) / 1000).toFixed(1)} s over ${((dueTo - dueFrom) / 1000).toFixed(1)} s` +
      (late > 0 ? ` (${late} created after the planned window: due as soon as created)` : ''),
  );
  return { occurrences, dueFrom, dueTo, createSeconds, late };
}

export async function untilDue(at: number): Promise<void> {
  const wait = at - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
