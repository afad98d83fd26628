import { createBurst, untilDue } from '../lib/burst';
import { Cluster, RunContext, Scenario, fail, result } from '../lib/harness';
import { QUICK_SETTLE_MS, score, settle } from '../lib/judge';
import { Rng, waitUntil } from '../lib/util';

const SHUTDOWN_TIMEOUT_MS = 10_000;

// SIGTERM to one of two instances while a burst drains: it finishes or releases what it holds, exits,
// and the other instance dials the rest.
export const gracefulShutdown: Scenario = {
  id: 5,
  name: 'graceful-shutdown',
  async run(ctx: RunContext) {
    const r = result('graceful-shutdown');
    const full = ctx.mode === 'full';
    const count = full ? 300 : 30;
    const rng = new Rng(ctx.seed).fork(5);
    const cluster = await Cluster.start(ctx, { name: 'shutdown', instances: 2, rng, env: { SCHEDULER_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) } });
    try {
      const burst = await createBurst(cluster, { scenarioIndex: 5, count, windowMs: 2000 }, ctx.log);
      await untilDue(burst.dueFrom);
      r.details.burst = { created_s: Math.round(burst.createSeconds), due_spread_s: Math.round((burst.dueTo - burst.dueFrom) / 100) / 10, created_late: burst.late };
      // Mid-burst: once a random share (10-40%) of the calls reached the provider.
      const share = 0.1 + rng.next() * 0.3;
      await waitUntil(async () => cluster.twilio.inner.calls.length >= Math.ceil(count * share), 120_000, 100);
      const [victim, survivor] = cluster.services;
      const claims = cluster.mongo.db().collection('occurrence_claims');
      const inFlight = await claims.countDocuments({ state: { $in: ['claimed', 'dialing'] } });
      ctx.log(`  SIGTERM ${victim.name} with ${cluster.twilio.inner.calls.length}/${count} calls placed, ${inFlight} claims in flight`);
      const exit = await victim.terminate(SHUTDOWN_TIMEOUT_MS + 60_000);
      r.faults = 1;
      r.details.sigterm = { provider_calls_before: cluster.twilio.inner.calls.length, claims_in_flight: inFlight, exit };
      ctx.log(`  ${victim.name} exited code=${exit.code} signal=${exit.signal} after ${(exit.tookMs / 1000).toFixed(1)} s`);
      if (exit.timedOut || exit.code !== 0) fail(r, `${victim.name} did not exit cleanly after SIGTERM: ${JSON.stringify(exit)}`);
      // Whatever the stopped instance held must be finished or released, not left claimed/dialing.
      const stranded = await claims.find({ state: { $in: ['claimed', 'dialing'] }, claimed_by: { $regex: `:${victim.pid ?? 0}$` } }).toArray();
      r.details.stranded_after_exit = stranded.length;
      if (stranded.length > 0) fail(r, `${stranded.length} claim(s) of the stopped instance left ${[...new Set(stranded.map((c) => c.state))].join('/')} after it exited, e.g. ${JSON.stringify(stranded.slice(0, 2))}`);
      const j = await settle(cluster, burst.occurrences, full ? 1_200_000 : QUICK_SETTLE_MS, ctx.log);
      score(r, j, count, cluster);
      r.notes.push(`${victim.name} exited ${exit.code} in ${(exit.tookMs / 1000).toFixed(1)} s; ${survivor.name} finished the burst; ${cluster.twilio.inner.calls.length} calls at the provider`);
    } finally {
      await cluster.stop();
    }
    return r;
  },
};
