'use strict';
// 7. Instances: the fire scenario's burst on several instances of the service sharing one database, as a
// deployment runs them. Every instance reads the same due schedules and races for each occurrence (one
// claim insert wins), so the figures are the cluster's rate against one instance's (scenario 1) and the
// provider's count of duplicate dials.
const { burst, fmt } = require('../lib/burst');
const { summarizeRuns } = require('./fire');
const { untilDatabaseQuiet } = require('./scale');

async function instances(ctx, plan) {
  const k = plan.instances;
  const result = { instances: k, sizes: plan.instanceSizes, runs: plan.runs, cap_ms: {}, by_size: {} };
  for (const n of plan.instanceSizes) {
    result.cap_ms[n] = plan.capFor(n);
    const runs = [];
    for (let r = 0; r < plan.runs; r++) {
      // A fresh database for each run, as in a full fire scenario: a run must not find another's claims.
      const dbName = ctx.newDbName(`instances_${n}`);
      const svcs = [];
      let fig = null;
      try {
        svcs.push(await ctx.service(dbName, 'twilio'));
        for (let i = 1; i < k; i++) svcs.push(await ctx.service(dbName, 'twilio', {}, { templates: svcs[0].templates }));
        fig = await burst(ctx, svcs[0], 'twilio', n, plan.capFor(n));
      } catch (error) {
        // A run the harness could not set up is recorded, as in scenario 1, and the others go on.
        ctx.log(`  ${k} instances N=${n} run ${r + 1} failed: ${error.message}`);
        runs.push({ n, done: 0, error: String(error.message) });
      } finally {
        await Promise.all(svcs.map((svc) => svc.stop(3000)));
        await ctx.dropDb(dbName);
      }
      if (!fig) continue;
      // Dials that reached the provider after the count was taken, up to the instances' exit, count too.
      fig.duplicate_dials = fig.recountDuplicates();
      runs.push(fig);
      ctx.log(`  ${k} instances N=${n} run ${r + 1}: ${fig.done}/${n} p50 ${fmt(fig.p50)} p99 ${fmt(fig.p99)} ${fig.per_second ?? '-'}/s, duplicate dials ${fig.duplicate_dials}`);
      // FerretDB goes on with the queries of services it lost: the next run, or scenario, waits for it.
      await untilDatabaseQuiet(ctx);
    }
    result.by_size[n] = { summary: summarizeRuns(runs), runs };
  }
  return result;
}

module.exports = { instances };
