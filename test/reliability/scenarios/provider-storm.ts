import { createBurst, untilDue } from '../lib/burst';
import { Cluster, RunContext, Scenario, fail, result } from '../lib/harness';
import { QUICK_SETTLE_MS, score, settle } from '../lib/judge';
import { countOf, Rng } from '../lib/util';

// The fake Twilio answers 30% 429, 10% 500 and resets 5% of the connections after it created the call.
export const providerStorm: Scenario = {
  id: 4,
  name: 'provider-storm',
  async run(ctx: RunContext) {
    const r = result('provider-storm');
    const full = ctx.mode === 'full';
    const count = full ? 300 : 30;
    const rng = new Rng(ctx.seed).fork(4);
    const cluster = await Cluster.start(ctx, { name: 'storm', instances: 2, rng, env: { PROVIDER_MAX_RETRIES: '6' } });
    try {
      cluster.twilio.mix = { p429: 0.3, p500: 0.1, pReset: 0.05 };
      const burst = await createBurst(cluster, { scenarioIndex: 4, count, windowMs: 10_000 }, ctx.log);
      await untilDue(burst.dueFrom);
      r.details.burst = { created_s: Math.round(burst.createSeconds), due_spread_s: Math.round((burst.dueTo - burst.dueFrom) / 100) / 10, created_late: burst.late };
      const j = await settle(cluster, burst.occurrences, full ? 1_200_000 : QUICK_SETTLE_MS, ctx.log);
      score(r, j, count, cluster);
      const faults = { '429': 0, '500': 0, reset: 0 };
      for (const c of cluster.twilio.creates) if (c.fault !== 'none') faults[c.fault]++;
      r.faults = faults['429'] + faults['500'] + faults.reset;
      r.details.faults = faults;
      r.details.create_requests = cluster.twilio.creates.length;
      // A reset happens after the call was created: the service must find it by lookup, not dial again.
      const resetPhones = new Set(cluster.twilio.creates.filter((c) => c.fault === 'reset').map((c) => c.to));
      const resetOutcomes = j.verdicts.filter((v) => resetPhones.has(v.phone)).map((v) => `${v.status}/${v.claim}/${v.providerCalls}`);
      r.details.reset_outcomes = resetOutcomes;
      const unknownFinal = j.verdicts.filter((v) => !['completed', 'failed', 'missed'].includes(v.status) && v.claim !== 'unknown');
      if (unknownFinal.length > 0) fail(r, `${unknownFinal.length} occurrence(s) not in a known final state`);
      r.notes.push(`faults ${JSON.stringify(faults)} over ${cluster.twilio.creates.length} create requests; ${cluster.twilio.inner.calls.length} calls at the provider; reset occurrences ended (status/claim/provider calls): ${JSON.stringify(countOf(resetOutcomes))}`);
    } finally {
      await cluster.stop();
    }
    return r;
  },
};
