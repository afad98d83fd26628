import { createBurst, untilDue } from '../lib/burst';
import { Cluster, RunContext, Scenario, fail, result } from '../lib/harness';
import { QUICK_SETTLE_MS, score, settle } from '../lib/judge';
import { newFerretDb } from '../lib/processes';
import { countOf, Rng, sleep } from '../lib/util';

interface Probe {
  at_s: number;
  instance: string;
  status: number | string;
}

// The database server is stopped (SIGKILL) in the middle of a burst and started again, same port and
// data (its SQLite files, or its PostgreSQL database, which outlives it), while the service keeps running.
export const dbOutage: Scenario = {
  id: 3,
  name: 'database-outage',
  async run(ctx: RunContext) {
    const r = result('database-outage');
    if (!ctx.ferretBinary) {
      r.skipped = true;
      r.notes.push('no FerretDB binary to stop and start (MONGODB_URI given): skipped');
      return r;
    }
    const full = ctx.mode === 'full';
    const count = full ? 200 : 30;
    const outageMs = full ? 20_000 : 5_000;
    const windowMs = full ? 30_000 : 10_000;
    // Shorter than the outage, so that occurrences due early in it are misfires when it ends.
    const graceSeconds = full ? 10 : 3;
    const rng = new Rng(ctx.seed).fork(3);
    const db = await newFerretDb(ctx.ferretBinary, ctx.workDir, 'outage', ctx.postgresqlServer);
    let cluster: Cluster;
    try {
      await db.start();
      cluster = await Cluster.start(ctx, {
        name: 'outage',
        instances: 2,
        rng,
        dbUri: `${db.uri}call_scheduler`,
        env: { SCHEDULER_MISFIRE_GRACE_TIME: String(graceSeconds) },
      });
    } catch (error) {
      await db.destroy();
      throw error;
    }
    try {
      const burst = await createBurst(cluster, { scenarioIndex: 3, count, windowMs, misfirePolicy: (i) => (i % 2 === 0 ? 'skip' : 'run_once') }, ctx.log);
      await untilDue(burst.dueFrom);
      r.details.burst = { created_s: Math.round(burst.createSeconds), due_spread_s: Math.round((burst.dueTo - burst.dueFrom) / 100) / 10, created_late: burst.late };
      await sleep(Math.floor(windowMs / 4) + rng.int(0, 1000));
      const down = Date.now();
      await db.kill();
      ctx.log(`  FerretDB stopped at +${((down - burst.dueFrom) / 1000).toFixed(1)} s for ${outageMs / 1000} s`);
      const probes: Probe[] = [];
      const probe = async () => {
        for (const s of cluster.services) {
          let status: number | string;
          try {
            status = (await fetch(`${s.url}/health/ready`, { signal: AbortSignal.timeout(5000) })).status;
          } catch (error) {
            status = `error: ${error instanceof Error ? error.name : String(error)}`;
          }
          probes.push({ at_s: Math.round((Date.now() - down) / 100) / 10, instance: s.name, status });
        }
      };
      while (Date.now() - down < outageMs) {
        await probe();
        await sleep(1000);
      }
      await db.start();
      const up = Date.now();
      ctx.log(`  FerretDB started again after ${((up - down) / 1000).toFixed(1)} s`);
      r.faults = 1;
      // Readiness: 503 while the database is away (after the 2 s ping timeout has had its chance).
      const during = probes.filter((p) => p.at_s >= 3);
      const not503 = during.filter((p) => p.status !== 503);
      r.details.readiness_during_outage = countOf(during.map((p) => String(p.status)));
      if (during.length === 0) fail(r, 'no readiness probe ran during the outage');
      if (not503.length > 0) fail(r, `/health/ready answered other than 503 during the outage: ${JSON.stringify(countOf(not503.map((p) => String(p.status))))}`);
      // Recovery without a restart: the same processes report ready again.
      let recoveredMs: number | null = null;
      for (let i = 0; i < 240 && recoveredMs === null; i++) {
        const statuses = await Promise.all(cluster.services.map((s) => fetch(`${s.url}/health/ready`, { signal: AbortSignal.timeout(5000) }).then((x) => x.status).catch(() => 0)));
        if (statuses.every((s) => s === 200)) recoveredMs = Date.now() - up;
        else await sleep(500);
      }
      const restarted = cluster.services.filter((s) => !s.running || s.starts !== 1);
      if (restarted.length > 0) fail(r, `instances died or were restarted: ${restarted.map((s) => s.name).join(', ')}`);
      if (recoveredMs === null) fail(r, 'readiness did not return to 200 within 120 s after the database came back');
      r.details.ready_again_after_ms = recoveredMs;
      const j = await settle(cluster, burst.occurrences, full ? 900_000 : QUICK_SETTLE_MS, ctx.log);
      score(r, j, count, cluster);
      // Misfire policy: run_once occurrences are dialed however late; skip ones late past the grace are missed.
      const runOnce = new Set(burst.occurrences.filter((o) => o.misfirePolicy === 'run_once').map((o) => o.id));
      const runOnceMissed = j.verdicts.filter((v) => runOnce.has(v.id) && v.status === 'missed');
      const skipMissed = j.verdicts.filter((v) => !runOnce.has(v.id) && v.status === 'missed');
      r.details.misfire = { run_once_missed: runOnceMissed.length, skip_missed: skipMissed.length };
      if (runOnceMissed.length > 0) fail(r, `${runOnceMissed.length} run_once occurrence(s) ended missed: ${JSON.stringify(runOnceMissed.slice(0, 3))}`);
      r.notes.push(
        `readiness during outage ${JSON.stringify(r.details.readiness_during_outage)}; ready again ${recoveredMs === null ? 'never' : `${(recoveredMs / 1000).toFixed(1)} s`} after restart; skip-policy missed ${skipMissed.length}, run_once missed ${runOnceMissed.length}`,
      );
    } finally {
      await cluster.stop();
      await db.destroy();
    }
    return r;
  },
};
