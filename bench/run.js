#!/usr/bin/env node
'use strict';
// The benchmark harness (issue 9). `npm run bench` runs every scenario against the compiled service in
// production mode, its own database (MONGODB_URI or the embedded server the tests use) and a local fake
// provider; writes bench/results/<timestamp>.json and prints a markdown table.
//   npm run bench [-- --quick | --smoke] [--only fire,instances,peers,pacing,webhook,profile,api,scale] [--runs N]
//                 [--dist <build dir>] [--readme] [--scale-schedules N] [--fire-sizes 1,1000] [--profile-n N]
// --quick: small N, under about 2 minutes; --smoke: tiny N and one run, for CI (never judges targets).
//   npm run bench -- --merge <a.json>,<b.json> [--readme]: one table from several result files.
// FerretDB stores on PostgreSQL when one answers (FERRETDB_POSTGRESQL_URL's server, else 127.0.0.1:5432), in a
// fresh database dropped after the run; TEST_FERRETDB_HANDLER=sqlite|postgresql chooses, as in the test suites.
//   --engines postgresql,sqlite: the same scenarios on each handler in turn, then a table of the first's
//   medians divided by each other's.
// Targets are reported, never asserted: the exit code is non-zero only when the harness itself fails.
const { execFileSync } = require('node:child_process');
const { mkdirSync, mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { ensureBuild, ROOT } = require('./lib/build');
const { startDatabase } = require('./lib/database');
const { FakeProvider } = require('./lib/fake-provider');
const { createContext } = require('./lib/context');
const { comparison, table, updateReadme } = require('./lib/report');
const { parseArgs, round } = require('./lib/util');

const PLANS = {
  full: {
    runs: 3,
    fireSizes: [1, 1000, 10_000],
    simulatedSizes: [1, 1000],
    capFor: (n) => (n === 1 ? 10_000 : 20_000),
    scaleRestart: true,
    cleanRestart: true,
    apiSeconds: 10,
    postConnections: 50,
    readSeconds: 5,
    readConnections: 10,
    callLogs: 100_000,
    scaleSchedules: 100_000,
    scaleFireN: 1000,
    idleSeconds: 30,
    pacingRates: [5, 50],
    pacingFactor: 10,
    pacingCapFor: (cps, calls) => (calls / cps) * 1000 + 20_000,
    webhook: { count: 150, concurrency: 20 },
    profileN: 300,
    instances: 3,
    instanceSizes: [1000, 10_000],
  },
  quick: {
    runs: 3,
    fireSizes: [1, 10],
    simulatedSizes: [1, 10],
    capFor: () => 10_000,
    scaleRestart: false,
    cleanRestart: false,
    apiSeconds: 2,
    postConnections: 10,
    readSeconds: 1,
    readConnections: 4,
    callLogs: 1000,
    scaleSchedules: 1000,
    scaleFireN: 10,
    idleSeconds: 5,
    pacingRates: [5],
    pacingFactor: 2,
    pacingCapFor: (cps, calls) => (calls / cps) * 1000 + 10_000,
    webhook: { count: 30, concurrency: 10 },
    profileN: 10,
    instances: 3,
    instanceSizes: [10],
  },
};
// Tiny N, one run, each scenario and mode once: only that the harness works end to end.
PLANS.smoke = {
  ...PLANS.quick,
  runs: 1,
  fireSizes: [3],
  simulatedSizes: [3],
  postConnections: 4,
  readConnections: 2,
  callLogs: 200,
  scaleSchedules: 200,
  scaleFireN: 3,
  idleSeconds: 2,
  pacingFactor: 1,
  webhook: { count: 10, concurrency: 4 },
  profileN: 3,
  instances: 2,
  instanceSizes: [3],
};

// In running order: the longest (scale) last.
const SCENARIOS = {
  fire: () => require('./scenarios/fire').fireAccuracy,
  instances: () => require('./scenarios/instances').instances,
  peers: () => require('./scenarios/peers').peers,
  pacing: () => require('./scenarios/pacing').pacing,
  webhook: () => require('./scenarios/webhook').webhook,
  profile: () => require('./scenarios/profile').profile,
  api: () => require('./scenarios/api').api,
  scale: () => require('./scenarios/scale').scale,
};

function git() {
  const run = (...a) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
  try {
    return { commit: run('rev-parse', '--short=12', 'HEAD'), dirty: run('status', '--porcelain', '--untracked-files=no').length > 0 };
  } catch {
    return { commit: 'unknown', dirty: null };
  }
}

const load = () => os.loadavg().map((l) => round(l, 2));

// --merge a.json,b.json: one result from several runs (a scenario re-run with --only replaces the
// earlier one), for when part of a full run had to be repeated.
function merge(args) {
  const files = String(args.merge).split(',');
  const parts = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
  const merged = { ...parts[0], scenarios: {}, durations_s: {}, failures: [], merged_from: files, command: parts.map((p) => p.command).join(' + ') };
  for (const part of parts) {
    Object.assign(merged.scenarios, part.scenarios);
    Object.assign(merged.durations_s, part.durations_s);
    merged.failures = [...merged.failures.filter((f) => !(f.scenario in part.scenarios)), ...part.failures];
    merged.machine = { ...merged.machine, loadavg_end: part.machine.loadavg_end };
  }
  const file = join(ROOT, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-merged.json`);
  writeFileSync(file, JSON.stringify(merged, null, 2));
  const markdown = table(revive(merged));
  process.stdout.write(`\n${markdown}\n\nResults: ${file}\n`);
  if (args.readme) updateReadme(markdown, merged.command);
}

// Saved files say "not_done" where a figure was Infinity.
const revive = (results) => JSON.parse(JSON.stringify(results), (k, v) => (v === 'not_done' ? Infinity : v));

// One pass over the chosen scenarios on one database (handler: FerretDB's storage, or the default choice).
async function benchOn(handler, { plan, planName, only, buildDir, fake, log, logDir }) {
  const started = new Date();
  // The smoke run shares PostgreSQL (100 connections) with the test suite's FerretDB (up to 50) in CI, and a
  // FerretDB keeps the connections it opened for 30 minutes: its tiny bursts get fewer, kept for a minute.
  const db = await startDatabase(buildDir, log, { handler, ...(planName === 'smoke' ? { postgresqlParams: { pool_max_conns: '30', pool_max_conn_idle_time: '1m' } } : {}) });
  log(`database ${db.version} at ${db.uri}${db.pid ? ` (pid ${db.pid})` : ''}`);
  const ctx = createContext({ db, buildDir, fake, log, logDir });
  ctx.logDir = logDir;
  ctx.plan = plan;

  const results = {
    started_at: started.toISOString(),
    plan: planName,
    runs: plan.runs,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    git: git(),
    machine: {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model,
      memory_gb: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadavg_start: load(),
    },
    database: { engine: db.engine, handler: db.handler, version: db.version },
    scenarios: {},
    failures: [],
    durations_s: {},
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const file = join(ROOT, 'bench', 'results', `${started.toISOString().replace(/[:.]/g, '-')}${handler ? `-${handler}` : ''}.json`);
  // Written after every scenario, so that an interrupted run keeps what it measured.
  const save = () => writeFileSync(file, JSON.stringify(results, (k, v) => (v === Infinity ? 'not_done' : v), 2));
  try {
    for (const name of only) {
      const t0 = Date.now();
      log(`scenario ${name}${handler ? ` on ${handler}` : ''} (load ${load().join(' ')})`);
      try {
        results.scenarios[name] = await SCENARIOS[name]()(ctx, plan);
      } catch (error) {
        // One scenario's failure (a service that never became ready under load, say) is recorded and the
        // run goes on; the harness still fails at the end so that CI notices.
        log(`scenario ${name} failed: ${error.stack ?? error}`);
        results.failures.push({ scenario: name, error: String(error.message ?? error) });
      }
      results.durations_s[name] = round((Date.now() - t0) / 1000, 1);
      save();
    }
  } finally {
    await db.stop();
  }
  results.machine.loadavg_end = load();
  results.total_s = round((Date.now() - started.getTime()) / 1000, 1);
  save();
  return { results, file };
}

const HANDLERS = ['postgresql', 'sqlite'];

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.merge) return merge(args);
  const planName = args.smoke ? 'smoke' : args.quick ? 'quick' : 'full';
  const plan = { ...PLANS[planName], ...(args.runs ? { runs: Number(args.runs) } : {}), ...(args['scale-schedules'] ? { scaleSchedules: Number(args['scale-schedules']) } : {}), ...(args['fire-sizes'] ? { fireSizes: String(args['fire-sizes']).split(',').map(Number) } : {}), ...(args['profile-n'] ? { profileN: Number(args['profile-n']) } : {}) };
  const only = args.only ? String(args.only).split(',') : Object.keys(SCENARIOS);
  const unknown = only.filter((s) => !SCENARIOS[s]);
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
  const engines = args.engines ? String(args.engines).split(',') : [undefined];
  if (engines.some((e) => e !== undefined && !HANDLERS.includes(e))) throw new Error(`--engines takes FerretDB handlers, from: ${HANDLERS.join(', ')}`);
  if (args.engines && process.env.MONGODB_URI) throw new Error('--engines starts FerretDB on each handler: unset MONGODB_URI');
  const started = new Date();
  const log = (m) => process.stdout.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);
  const logDir = mkdtempSync(join(os.tmpdir(), 'call-scheduler-bench-logs-'));

  const buildDir = ensureBuild(args.dist ?? process.env.BENCH_DIST, log);
  log(`build ${buildDir}; service logs in ${logDir}`);
  const fake = await new FakeProvider().start();
  const passes = [];
  try {
    for (const handler of engines) passes.push(await benchOn(handler, { plan, planName, only, buildDir, fake, log, logDir }));
  } finally {
    await fake.stop();
  }

  const [first, ...others] = passes;
  const markdown = [...passes.map((p) => table(p.results)), ...others.map((p, i) => comparison(first.results, p.results, engines[0], engines[i + 1]))].join('\n\n');
  const seconds = round((Date.now() - started.getTime()) / 1000, 1);
  process.stdout.write(`\n${markdown}\n\nResults: ${passes.map((p) => p.file).join(', ')} (${seconds} s)\n`);
  if (args.readme) updateReadme(markdown, first.results.command);
  const failures = passes.flatMap((p) => p.results.failures.map((f) => `${f.scenario}${p.results.database.handler && engines.length > 1 ? ` on ${p.results.database.handler}` : ''}`));
  if (failures.length) throw new Error(`${failures.length} scenario(s) failed: ${failures.join(', ')}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
    process.exit(1);
  },
);
