'use strict';
// N one-time schedules due at one instant T, seeded into the service's database; the lag of each dial
// is read at the fake provider (twilio mode) or from the service's own `dispatched` records (simulated).
const { seedOneTime } = require('./seed');
const { lagFigures, round } = require('./util');

// Inserting runs at roughly 0.3-1 ms per schedule on FerretDB; T leaves room for it.
// Seeded straight into the database, the schedules are found by a poll (SCHEDULER_POLL_INTERVAL_MS, 5 s by
// default), not handed to a sweeper by the API: T leaves one poll plus the seeding time.
const leadMs = (n) => 5000 + 1500 + Math.ceil(n * 1.2);

async function dispatchedTimes(mdb, dueAt) {
  const events = await mdb.collection('schedule_events').find({ type: 'dispatched', 'data.occurrence_at': dueAt.toISOString() }, { projection: { 'data.lag_ms': 1 } }).toArray();
  return events.map((e) => dueAt.getTime() + e.data.lag_ms);
}

let nextNumber = 1_000_000;

async function burst(ctx, svc, mode, n, capMs) {
  ctx.fake.reset();
  const dueAt = new Date(Date.now() + leadMs(n));
  const seedStart = Date.now();
  const phones = new Set(await seedOneTime(svc.mdb, svc.templates, n, dueAt, nextNumber));
  nextNumber += n;
  const seededAt = Date.now();
  // Only this burst's numbers: a previous burst's backlog may still be dialing.
  const mine = () => ctx.fake.arrivals.filter((a) => phones.has(a.to));
  // Each number's first dial: a second one is a duplicate, not progress.
  const firstDials = () => {
    const first = new Map();
    for (const a of mine()) if (!first.has(a.to)) first.set(a.to, a.at);
    return [...first.values()];
  };
  const duplicates = () => {
    const arrivals = mine();
    return arrivals.length - new Set(arrivals.map((a) => a.to)).size;
  };
  const count = async () => (mode === 'twilio' ? firstDials().length : (await dispatchedTimes(svc.mdb, dueAt)).length);
  // The cap runs from T; the simulated count is a database query, so it is read less often.
  await ctx.until(async () => Date.now() >= dueAt.getTime() && (await count()) >= n, dueAt.getTime() + capMs - Date.now(), mode === 'twilio' ? 100 : 1000);
  const times = mode === 'twilio' ? firstDials() : await dispatchedTimes(svc.mdb, dueAt);
  return {
    // Exactly-once check at the provider: every schedule has its own number. Counted again by a caller
    // once the services have stopped (recountDuplicates; a function, so not saved with the figures).
    duplicate_dials: mode === 'twilio' ? duplicates() : null,
    recountDuplicates: mode === 'twilio' ? duplicates : null,
    ...lagFigures(times.slice(0, n), dueAt.getTime(), n),
    cap_ms: capMs,
    seed_ms: seededAt - seedStart,
    // Seeding that ends less than a poll before T would make the lag partly the harness's.
    seed_overran_due_time: seededAt > dueAt.getTime() - 300,
    due_at: dueAt.toISOString(),
  };
}

// In a full bench every burst (N >= 100) gets a fresh service and database; otherwise one service per mode
// serves the runs while they drain, and a run that did not drain leaves a backlog, so the next run gets a
// fresh one.
async function runBursts(ctx, { label, mode, sizes, runs, capFor, env = {}, onRun }) {
  const out = {};
  let svc = null;
  try {
    for (const n of sizes) {
      out[n] = [];
      for (let r = 0; r < runs && !out[n].some(stalled); r++) {
        svc ??= await ctx.service(ctx.newDbName(`${label}_${mode}`), mode, env);
        let fig;
        try {
          fig = await burst(ctx, svc, mode, n, capFor(n));
        } catch (error) {
          // A run the harness could not set up (the database refusing the seed, say) is recorded, not fatal.
          ctx.log(`  ${label} ${mode} N=${n} run ${r + 1} failed: ${error.message}`);
          out[n].push({ n, done: 0, error: String(error.message) });
          await svc.stop(3000);
          svc = null;
          continue;
        }
        if (onRun) Object.assign(fig, await onRun(svc, fig));
        out[n].push(fig);
        if (stalled(fig)) ctx.log(`  ${label} ${mode} N=${n}: under 1% dialed within the cap; its remaining runs are skipped`);
        ctx.log(`  ${label} ${mode} N=${n} run ${r + 1}: ${fig.done}/${n} p50 ${fmt(fig.p50)} p99 ${fmt(fig.p99)} max ${fmt(fig.max)} ${fig.per_second ?? '-'}/s`);
        // Each burst of a full bench starts on an empty database: a later run would find the earlier runs'
        // schedules, claims and logs, which every FerretDB update scans, and measure a bigger database
        // (probably why one simulated run at 1,000, the third on its database, dialed 435). Single
        // schedules share one service: a fresh one would time its first dial, which loads the provider's
        // request path, every time.
        if (ctx.plan.cleanRestart && (n >= 100 || fig.done < n)) {
          await svc.stop(3000);
          await ctx.dropDb(svc.dbName);
          svc = null;
        }
      }
    }
  } finally {
    if (svc) {
      await svc.stop(3000);
      await ctx.dropDb(svc.dbName);
    }
  }
  return out;
}

// A run that dialed under 1% within its cap: repeating it only spends the time budget.
const stalled = (fig) => fig.n >= 100 && fig.done < fig.n / 100;

const fmt = (ms) => (ms === Infinity ? '>cap' : Number.isFinite(ms) ? `${round(ms, 0)} ms` : '-');

module.exports = { burst, runBursts, leadMs, fmt, stalled };
