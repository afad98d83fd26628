'use strict';
// 4. Scale: many active weekly schedules (next runs spread over a week, seeded directly with their
// mirrors and Agenda jobs), then fire accuracy, API latencies, service RSS and the database's idle CPU.
// The service reaches the database through the wire counter, so the idle figures say which commands
// keep the database busy. A second pass seeds the same schedules without their Agenda jobs: what the
// one-job-per-schedule design costs.
const { burst, fmt } = require('../lib/burst');
const { seedWeekly } = require('../lib/seed');
const { perDial, startWireCounter } = require('../lib/wire-counter');
const { withDb } = require('../lib/database');
const { cpuSeconds, rssMb, round, sleep, summarize } = require('../lib/util');
const { cannon, figures, summarizeRuns: summarizeApi } = require('./api');
const { summarizeRuns } = require('./fire');

const topCommands = (list, seconds) => list.slice(0, 6).map((c) => ({ cmd: c.cmd, per_second: round(c.count / seconds, 2), mean_ms: round(c.ms / c.count, 0) }));

// FerretDB keeps executing a query its client gave up on (an earlier scenario's 100k-log sort, say): the
// idle figure waits for that to end, up to 3 minutes, so that it measures polling and nothing else.
async function untilDatabaseQuiet(ctx) {
  if (!ctx.db.pid) return 0;
  const started = Date.now();
  while (Date.now() - started < 180_000) {
    const before = cpuSeconds(ctx.db.pid);
    await sleep(2000);
    if (((cpuSeconds(ctx.db.pid) - before) / 2) * 100 < 25) break;
  }
  return round((Date.now() - started) / 1000, 0);
}

// CPU use of the database server and of the service over `seconds` with nothing due (the cost of polling).
async function idleCpu(ctx, svc, seconds, counter) {
  const waitedForQuiet = await untilDatabaseQuiet(ctx);
  const db0 = ctx.db.pid ? cpuSeconds(ctx.db.pid) : null;
  const svc0 = cpuSeconds(svc.pid);
  counter?.start();
  await sleep(seconds * 1000);
  const commands = counter?.stop();
  const db1 = ctx.db.pid ? cpuSeconds(ctx.db.pid) : null;
  const svc1 = cpuSeconds(svc.pid);
  return {
    seconds,
    db_cpu_percent: db0 === null || db1 === null ? null : round(((db1 - db0) / seconds) * 100, 1),
    service_cpu_percent: svc0 === null || svc1 === null ? null : round(((svc1 - svc0) / seconds) * 100, 1),
    waited_for_quiet_s: waitedForQuiet,
    ...(commands ? { commands: topCommands(commands, seconds) } : {}),
  };
}

async function apiAt(ctx, svc, plan) {
  const id = (await svc.mdb.collection('call_schedules').findOne({ 'repeat_config.frequency': 'weekly' }, { projection: { _id: 1 } }))._id.toHexString();
  const auth = { authorization: `Bearer ${ctx.token}` };
  const body = JSON.stringify({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 30 * 86_400_000).toISOString() });
  const routes = {
    'GET /schedule/{id}': { url: `${svc.url}/schedule/${id}`, headers: auth },
    'GET /schedule': { url: `${svc.url}/schedule`, headers: auth },
    'GET /schedule/active': { url: `${svc.url}/schedule/active`, headers: auth },
    'POST /schedule/': { url: `${svc.url}/schedule/`, method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body },
  };
  const out = {};
  for (const [name, opts] of Object.entries(routes)) {
    const runs = [];
    for (let r = 0; r < plan.runs; r++) runs.push(figures(await cannon({ ...opts, connections: plan.readConnections, duration: plan.readSeconds })));
    out[name] = { summary: summarizeApi(runs), runs };
    ctx.log(`  scale ${name}: ${out[name].summary.rps.median}/s p50 ${out[name].summary.p50_ms.median} ms p99 ${out[name].summary.p99_ms.median} ms`);
  }
  return out;
}

async function fireRuns(ctx, plan, start, label) {
  let svc = await start();
  const runs = [];
  try {
    for (let r = 0; r < plan.runs; r++) {
      const fig = await burst(ctx, svc, 'twilio', plan.scaleFireN, plan.capFor(plan.scaleFireN));
      runs.push(fig);
      ctx.log(`  ${label} fire N=${plan.scaleFireN} run ${r + 1}: ${fig.done}/${fig.n} p50 ${fmt(fig.p50)} p99 ${fmt(fig.p99)} max ${fmt(fig.max)} ${fig.per_second ?? '-'}/s`);
      if (fig.done < fig.n && r + 1 < plan.runs && plan.cleanRestart) {
        // The next run starts without this one's backlog: restart and remove the one-time leftovers.
        await svc.stop(3000);
        await svc.mdb.collection('call_schedules').deleteMany({ repeat_config: null, status: 'scheduled' });
        svc = await start();
      }
    }
    return { svc, fire: { summary: summarizeRuns(runs), runs } };
  } catch (error) {
    await svc.stop(3000);
    throw error;
  }
}

async function scale(ctx, plan) {
  const result = { schedules: plan.scaleSchedules, fire_n: plan.scaleFireN, runs: plan.runs, through_wire_counter: true };
  const dbUrl = new URL(ctx.db.uri);
  const counter = await startWireCounter(dbUrl.hostname, Number(dbUrl.port), { shapes: true });
  const via = (dbName) => ({ MONGODB_URI: withDb(`mongodb://127.0.0.1:${counter.port}/?directConnection=true`, dbName) });
  const dbName = ctx.newDbName('scale');
  let svc = await ctx.service(dbName, 'twilio', via(dbName));
  try {
    await sleep(2000);
    result.idle_empty = await idleCpu(ctx, svc, plan.idleSeconds, counter);
    result.rss_mb_empty = rssMb(svc.pid);
    ctx.log(`  empty: db CPU ${result.idle_empty.db_cpu_percent}% service CPU ${result.idle_empty.service_cpu_percent}% RSS ${result.rss_mb_empty} MB`);

    // Seeded with the service stopped (its polling would hold the SQLite lock against the inserts); the
    // restarted service then meets the population the way a deployed instance would.
    const templates = svc.templates;
    await svc.stop(3000);
    const seedStart = Date.now();
    await seedWeekly(svc.mdb, templates, plan.scaleSchedules, new Date(Date.now() + 10 * 60_000), (k) => k % 50_000 === 0 && ctx.log(`  seeded ${k}`));
    result.seed_ms = Date.now() - seedStart;
    result.seed_per_second = round(plan.scaleSchedules / (result.seed_ms / 1000), 0);
    ctx.log(`  seeded ${plan.scaleSchedules} weekly schedules (with their mirrors) in ${result.seed_ms} ms`);
    svc = await ctx.service(dbName, 'twilio', via(dbName), { requireReady: false, templates, readyTimeoutMs: 300_000 });
    result.ready_after_seed = svc.ready;
    result.start_ms_after_seed = svc.startMs;
    await sleep(2000);
    result.idle_loaded = await idleCpu(ctx, svc, plan.idleSeconds, counter);
    ctx.log(`  loaded: db CPU ${result.idle_loaded.db_cpu_percent}% service CPU ${result.idle_loaded.service_cpu_percent}%; ${JSON.stringify(result.idle_loaded.commands)}`);
    result.api = await apiAt(ctx, svc, plan);
    result.rss_mb_after_api = rssMb(svc.pid);
    const peakBeforeFire = rssMb(svc.pid, { peak: true });
    const running = svc;
    let first = true;
    const fired = await fireRuns(ctx, plan, async () => (first ? ((first = false), running) : ctx.service(dbName, 'twilio', via(dbName), { requireReady: false, templates, readyTimeoutMs: 300_000 })), 'scale');
    svc = fired.svc;
    result.fire = fired.fire;
    result.rss_mb = rssMb(svc.pid);
    // The most the service held at any point of the scenario (VmHWM; of either process when a fire
    // restarted it): what a container's memory limit must allow.
    result.rss_peak_mb = Math.max(peakBeforeFire ?? 0, rssMb(svc.pid, { peak: true }) ?? 0) || null;
    result.rss_mb_summary = summarize([result.rss_mb_after_api, result.rss_mb]);
    // One more burst, its commands counted by filter shape: which queries a fire among this many schedules
    // waits on. Kept out of the runs above, since the counter then decodes every command on their way.
    counter.start();
    const profiled = await burst(ctx, svc, 'twilio', plan.scaleFireN, plan.capFor(plan.scaleFireN));
    counter.stop();
    result.fire.by_filter = perDial(counter.shapes(), Math.max(1, profiled.done), 12);
  } finally {
    await svc.stop(3000);
    await ctx.dropDb(dbName);
  }

  await counter.close();
  const millionEstimateS = round((result.seed_ms / 1000) * (1_000_000 / plan.scaleSchedules), 0);
  const seedingNote = `seeding alone would take about ${millionEstimateS} s at the measured ${result.seed_per_second} schedules/s`;
  result.million = {
    run: false,
    reason:
      millionEstimateS > 900
        ? `not run: ${seedingNote}, over the 15-minute budget`
        : `not run by default (${seedingNote}); \`npm run bench -- --only scale --scale-schedules 1000000\` runs it`,
  };
  return result;
}

module.exports = { scale, idleCpu, untilDatabaseQuiet };
