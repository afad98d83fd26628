'use strict';
// Where the dial path spends its time: one burst with the service behind a wire-protocol counter (database
// commands and their round-trip time per dial), under --cpu-prof, with the CPU of the database server and
// of the service sampled over the burst.
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { burst, fmt } = require('../lib/burst');
const { perDial, startWireCounter } = require('../lib/wire-counter');
const { cpuSeconds, round } = require('../lib/util');
const { withDb } = require('../lib/database');

function packageOf(url, buildDir) {
  if (!url) return null;
  if (url.includes(buildDir)) return 'service code';
  if (url.startsWith('node:')) return 'node internals';
  const inModules = url.split('node_modules/').pop();
  if (inModules === url) return 'other';
  return inModules.split('/').slice(0, inModules.startsWith('@') ? 2 : 1).join('/');
}

// Self time per function and per package from a .cpuprofile.
function summarizeCpuProfile(file, buildDir) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map();
  const pkgs = new Map();
  for (const [id, us] of self) {
    const { callFrame: f } = byId.get(id);
    const pkg = packageOf(f.url, buildDir) ?? f.functionName ?? '(native)';
    const fn = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us);
  }
  const top = (m, k) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => ({ name, ms: round(us / 1000, 0), percent: round((us / total) * 100, 1) }));
  return { total_ms: round(total / 1000, 0), by_package: top(pkgs, 12), top_functions: top(fns, 15) };
}

async function profile(ctx, plan) {
  const dbUrl = new URL(ctx.db.uri);
  const counter = await startWireCounter(dbUrl.hostname, Number(dbUrl.port), { shapes: true });
  const dbName = ctx.newDbName('profile');
  const proxied = withDb(`mongodb://127.0.0.1:${counter.port}/?directConnection=true`, dbName);
  const svc = await ctx.service(dbName, 'twilio', { MONGODB_URI: proxied }, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${ctx.logDir}`] });
  const n = plan.profileN;
  let fig;
  const cpu0 = { db: ctx.db.pid ? cpuSeconds(ctx.db.pid) : null, svc: cpuSeconds(svc.pid), at: Date.now() };
  counter.start();
  try {
    fig = await burst(ctx, svc, 'twilio', n, plan.capFor(n));
  } finally {
    var commands = counter.stop();
    var shapes = counter.shapes();
    var cpu1 = { db: ctx.db.pid ? cpuSeconds(ctx.db.pid) : null, svc: cpuSeconds(svc.pid), at: Date.now() };
    await svc.stop(30_000);
    await counter.close();
    await ctx.dropDb(dbName);
  }
  const seconds = (cpu1.at - cpu0.at) / 1000;
  const dials = Math.max(1, fig.done);
  const total = commands.reduce((a, c) => a + c.count, 0);
  const result = {
    n,
    dispatched: fig.done,
    lag: { p50: fig.p50, p99: fig.p99, max: fig.max },
    per_second: fig.per_second,
    window_s: round(seconds, 1),
    db_cpu_percent: cpu0.db === null ? null : round(((cpu1.db - cpu0.db) / seconds) * 100, 1),
    service_cpu_percent: round(((cpu1.svc - cpu0.svc) / seconds) * 100, 1),
    // The figure that carries over to MongoDB: the service's own work per dial (sampled under --cpu-prof).
    service_cpu_ms_per_dial: round(((cpu1.svc - cpu0.svc) * 1000) / dials, 1),
    db_commands_total: total,
    db_commands_per_dial: round(total / dials, 1),
    db_round_trip_ms_per_dial: round(commands.reduce((a, c) => a + c.ms, 0) / dials, 1),
    commands: perDial(commands, dials, 25),
    // The same by filter shape, costliest first: which query of a collection takes the time.
    by_filter: perDial(shapes, dials, 25),
  };
  const prof = readdirSync(ctx.logDir).filter((f) => f.endsWith('.cpuprofile')).sort().pop();
  if (prof) result.cpu_profile = { file: join(ctx.logDir, prof), ...summarizeCpuProfile(join(ctx.logDir, prof), ctx.buildDir) };
  ctx.log(`  profile N=${n}: ${fig.done} dialed, p99 ${fmt(fig.p99)}, ${result.db_commands_per_dial} DB commands/dial (${result.db_round_trip_ms_per_dial} ms of round trips), DB CPU ${result.db_cpu_percent}%, service CPU ${result.service_cpu_percent}% (${result.service_cpu_ms_per_dial} ms per dial)`);
  return result;
}

module.exports = { profile, summarizeCpuProfile };
