import { createBurst, untilDue } from '../lib/burst';
import { Cluster, RunContext, Scenario, result } from '../lib/harness';
import { judgeNotifications, QUICK_SETTLE_MS, score, scoreNotifications, settle } from '../lib/judge';
import { Rng, sleep } from '../lib/util';

// Two instances, a burst due within 10 s, one instance SIGKILLed at random moments and restarted.
export const crash: Scenario = {
  id: 1,
  name: 'crash-mid-dispatch',
  async run(ctx: RunContext) {
    const r = result('crash-mid-dispatch');
    const full = ctx.mode === 'full';
    const count = full ? 500 : 30;
    const kills = full ? 6 : 2;
    const rng = new Rng(ctx.seed).fork(1);
    // The whole history is kept, so that every final call's notification can be counted at the end.
    const cluster = await Cluster.start(ctx, { name: 'crash', instances: 2, rng, env: { NOTIFICATION_HISTORY_MAX_PER_TENANT: '1000000' } });
    try {
      const burst = await createBurst(cluster, { scenarioIndex: 1, count, windowMs: 10_000 }, ctx.log);
      await untilDue(burst.dueFrom);
      r.details.burst = { created_s: Math.round(burst.createSeconds), due_spread_s: Math.round((burst.dueTo - burst.dueFrom) / 100) / 10, created_late: burst.late };
      const claims = cluster.mongo.db().collection('occurrence_claims');
      const killLog: Array<Record<string, unknown>> = [];
      for (let k = 0; k < kills; k++) {
        // Random moments while the burst drains: the first within the due window, later ones spread out.
        await sleep(rng.int(full ? 1500 : 1000, full ? 9000 : 4000));
        const victim = cluster.services[rng.int(0, cluster.services.length - 1)];
        const inFlight = await claims.countDocuments({ state: { $in: ['claimed', 'dialing'] } }).catch(() => -1);
        const dialed = cluster.twilio.inner.calls.length;
        await victim.kill();
        killLog.push({ at_s: Math.round((Date.now() - burst.dueFrom) / 100) / 10, instance: victim.name, claims_in_flight: inFlight, provider_calls_so_far: dialed });
        ctx.log(`  SIGKILL ${victim.name} at +${((Date.now() - burst.dueFrom) / 1000).toFixed(1)} s (claims in flight ${inFlight}, provider calls so far ${dialed})`);
        await sleep(rng.int(300, 2500));
        await victim.start();
      }
      r.faults = kills;
      r.details.kills = killLog;
      const j = await settle(cluster, burst.occurrences, full ? 1_200_000 : QUICK_SETTLE_MS, ctx.log);
      score(r, j, count, cluster);
      scoreNotifications(r, await judgeNotifications(cluster, burst.occurrences));
      r.notes.push(`kills ${JSON.stringify(killLog)}`);
      r.notes.push(`${cluster.twilio.creates.length} create requests, ${cluster.twilio.inner.calls.length} calls at the provider, callbacks ${JSON.stringify(cluster.twilio.callbackResults)}`);
    } finally {
      await cluster.stop();
    }
    return r;
  },
};
