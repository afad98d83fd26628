import { createBurst, untilDue } from '../lib/burst';
import { Cluster, RunContext, Scenario, result } from '../lib/harness';
import { QUICK_SETTLE_MS, score, settle } from '../lib/judge';
import { Rng } from '../lib/util';

// Three instances on one database race for every occurrence of a burst due at one instant.
export const races: Scenario = {
  id: 2,
  name: 'races',
  async run(ctx: RunContext) {
    const r = result('races');
    const count = ctx.racesCount ?? (ctx.mode === 'full' ? 1000 : 50);
    const rng = new Rng(ctx.seed).fork(2);
    // No status callbacks: this scenario is about who dials, and callbacks would triple the database work.
    const cluster = await Cluster.start(ctx, { name: 'races', instances: 3, rng, callbacks: { enabled: false, statuses: ['completed'], delayMs: 0 } });
    try {
      const burst = await createBurst(cluster, { scenarioIndex: 2, count, windowMs: 0 }, ctx.log);
      await untilDue(burst.dueFrom);
      r.details.burst = { created_s: Math.round(burst.createSeconds), due_spread_s: Math.round((burst.dueTo - burst.dueFrom) / 100) / 10, created_late: burst.late };
      const started = Date.now();
      const j = await settle(cluster, burst.occurrences, ctx.mode === 'full' ? 1_500_000 : QUICK_SETTLE_MS, ctx.log, true);
      score(r, j, count, cluster);
      r.details.drain_seconds = Math.round((Date.now() - started) / 1000);
      r.details.provider_create_requests = cluster.twilio.creates.length;
      r.notes.push(`drained in ${r.details.drain_seconds} s; ${cluster.twilio.creates.length} create requests, ${cluster.twilio.inner.calls.length} calls at the provider`);
    } finally {
      await cluster.stop();
    }
    return r;
  },
};
