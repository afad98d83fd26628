import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EmbeddedDatabase } from '../../src/database/embedded/embedded-database.launcher';
import { dropPostgresDatabase, ferretDbPostgresqlServer, freshPostgresqlDatabase, redactedPostgresUrl } from '../../src/database/embedded/ferretdb-server';
import { Mode, RunContext, Scenario, ScenarioResult } from './lib/harness';
import { findFerretDb, FerretDbProcess, newFerretDb, serverVersion } from './lib/processes';
import { SCENARIOS } from './scenarios/index';

const REPO = resolve(__dirname, '..', '..');

interface Args {
  mode: Mode;
  seed: number;
  only: number[] | null;
  dist: string | null;
  build: boolean;
  keep: boolean;
  lanes: number;
  racesCount: number | null;
}

function positiveInteger(flag: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes a positive whole number, not ${text}`);
  return n;
}

function parseArgs(argv: string[]): Args {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = value('--only');
  return {
    mode: argv.includes('--full') ? 'full' : 'quick',
    seed: value('--seed') ? Number(value('--seed')) : Math.floor(Math.random() * 1_000_000),
    only: only ? only.split(',').map(Number) : null,
    dist: value('--dist') ?? null,
    build: !argv.includes('--no-build'),
    keep: argv.includes('--keep'),
    // Three lanes by default: the dispatch scenarios (1-5) spread over two, the API scenarios (6-10) in one;
    // --lanes N spreads the dispatch scenarios over N-1 lanes, --serial runs one scenario at a time.
    lanes: argv.includes('--serial') ? 1 : Math.max(1, Number(value('--lanes') ?? 3)),
    // --races-count N: the races scenario's burst size instead of the mode's (a larger burst on 3 instances).
    racesCount: value('--races-count') ? positiveInteger('--races-count', value('--races-count')) : null,
  };
}

// CI builds the service once with `npm run build` (a consistent tree); elsewhere the runner compiles
// into a directory of its own so that it never fights other work over dist/ (tsc emits even when some
// file being edited elsewhere does not typecheck).
function buildService(args: Args, log: (l: string) => void): string {
  if (args.dist && !args.build) return resolve(args.dist);
  const started = Date.now();
  if (!args.dist && process.env.CI) {
    log('building the service: npm run build');
    execFileSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'inherit' });
    log(`built dist/ in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return join(REPO, 'dist');
  }
  const out = resolve(args.dist ?? join(tmpdir(), 'call-scheduler-reliability-dist'));
  log(`compiling the service into ${out}`);
  try {
    execFileSync(join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', join(REPO, 'tsconfig.json'), '--outDir', out], { cwd: REPO, stdio: 'pipe' });
  } catch (error) {
    if (!existsSync(join(out, 'main.js'))) throw error;
    log('tsc reported type errors (files being edited elsewhere?); using what it emitted');
  }
  log(`compiled in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return out;
}

const COLUMNS = ['scenario', 'occurrences', 'faults injected', 'lost', 'duplicated', 'unknown-and-reconciled', 'result'];

function row(r: ScenarioResult): string[] {
  return [r.scenario, String(r.occurrences), String(r.faults), String(r.lost), String(r.duplicated), String(r.unknownReconciled), r.skipped ? 'SKIP' : r.passed ? 'PASS' : 'FAIL'];
}

export function table(results: ScenarioResult[]): string {
  const rows = [COLUMNS, ...results.map(row)];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(', ')).join('\n');
}

function markdown(results: ScenarioResult[]): string {
  return [`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => ' --- ').join('|')}|`, ...results.map((r) => `| ${row(r).join(' | ')} |`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const startedAt = new Date();
  const log = (line: string) => process.stdout.write(`[reliability ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(__dirname, 'results');
  const workDir = join(resultsDir, `run-${stamp}-${args.mode}`);
  mkdirSync(workDir, { recursive: true });
  log(`mode ${args.mode}, seed ${args.seed} (repeat with --seed ${args.seed}), logs in ${workDir}`);

  const distDir = buildService(args, log);
  if (!existsSync(join(distDir, 'main.js'))) throw new Error(`${distDir}/main.js not found`);

  // The database server every scenario shares (one database each); the outage scenario starts its own.
  const ferretBinary = findFerretDb(REPO);
  let dbUri = process.env.MONGODB_URI ?? '';
  const postgresqlServer = ferretBinary || !dbUri ? ((await ferretDbPostgresqlServer(process.env.TEST_FERRETDB_HANDLER, process.env.FERRETDB_POSTGRESQL_URL)) ?? null) : null;
  let shared: FerretDbProcess | null = null;
  let embedded: EmbeddedDatabase | null = null;
  let embeddedPostgresqlUrl: string | undefined;
  let database: string;
  const results: ScenarioResult[] = [];
  try {
    if (dbUri) {
      database = `MONGODB_URI: ${await serverVersion(dbUri)}`;
    } else if (ferretBinary) {
      shared = await newFerretDb(ferretBinary, workDir, 'shared', postgresqlServer);
      await shared.start();
      dbUri = shared.uri;
      database = `${await serverVersion(dbUri)} (${shared.handler} handler${shared.postgresqlUrl ? ` at ${redactedPostgresUrl(shared.postgresqlUrl)}` : ''}) from ${ferretBinary}`;
    } else {
      // No FerretDB binary: whatever the service's own embedded launcher finds (mongod, or an install).
      const launcher: typeof import('../../src/database/embedded/embedded-database.launcher') = require(join(distDir, 'database', 'embedded', 'embedded-database.launcher.js'));
      embeddedPostgresqlUrl = postgresqlServer ? await freshPostgresqlDatabase(postgresqlServer, 'call_scheduler_reliability') : undefined;
      embedded = await launcher.launchEmbeddedDatabase({ dataDir: join(workDir, 'db-embedded'), persistent: false, engine: 'auto', toolsDir: join(REPO, '.tools'), projectRoot: REPO, allowInstall: true, ferretdbPostgresqlUrl: embeddedPostgresqlUrl, log });
      dbUri = embedded.uri;
      database = launcher.describeEmbeddedDatabase(embedded);
    }
    log(`database: ${database}${shared ? ` at ${dbUri}` : ''}`);

    const ctx: RunContext = {
      mode: args.mode,
      seed: args.seed,
      racesCount: args.racesCount,
      repoRoot: REPO,
      distDir,
      workDir,
      dbUri,
      ferretBinary,
      postgresqlServer,
      jwtSecret: randomBytes(32).toString('hex'),
      log,
    };

    const chosen: Scenario[] = SCENARIOS.filter((s) => !args.only || args.only.includes(s.id));
    const byId = new Map<number, ScenarioResult>();
    const runOne = async (scenario: Scenario) => {
      log(`--- ${scenario.id}. ${scenario.name}`);
      const t0 = Date.now();
      let r: ScenarioResult;
      try {
        r = await scenario.run(ctx);
      } catch (error) {
        r = { scenario: scenario.name, occurrences: 0, faults: 0, lost: 0, duplicated: 0, unknownReconciled: 0, passed: false, failures: [`crashed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`], notes: [], details: {} };
      }
      r.seconds = Math.round((Date.now() - t0) / 1000);
      byId.set(scenario.id, r);
      // Written as each scenario ends, so that a long run stopped half-way still leaves its figures.
      const done = chosen.filter((s) => byId.has(s.id)).map((s) => byId.get(s.id)!);
      writeFileSync(join(resultsDir, `${stamp}-${args.mode}.partial.json`), JSON.stringify({ mode: args.mode, seed: args.seed, database, results: done, markdown: markdown(done) }, null, 2));
      log(`${r.skipped ? 'SKIP' : r.passed ? 'PASS' : 'FAIL'} ${scenario.name} in ${r.seconds} s`);
      for (const n of r.notes) log(`  note: ${n}`);
      for (const f of r.failures) log(`  FAILURE: ${f}`);
    };
    // Lanes share nothing but the database server (each scenario has databases, ports and fakes of its own).
    // The dispatch lanes take the next dispatch scenario from one queue as each finishes: dealt out in turn,
    // crash (about 60 s) had outage and shutdown queued behind it while the other lane idled after 50 s.
    const run = async (queue: Scenario[]) => {
      for (let next = queue.shift(); next; next = queue.shift()) await runOne(next);
    };
    if (args.lanes > 1) {
      const dispatch = chosen.filter((s) => s.id <= 5);
      const api = chosen.filter((s) => s.id > 5);
      await Promise.all([...Array.from({ length: args.lanes - 1 }, () => run(dispatch)), run(api)]);
    } else {
      await run([...chosen]);
    }
    results.push(...chosen.map((s) => byId.get(s.id)!));
  } finally {
    await shared?.destroy(args.keep);
    await embedded?.stop();
    if (args.keep) {
      const kept = shared?.postgresqlUrl ?? embeddedPostgresqlUrl;
      log(`--keep: the database is kept${kept ? ` (${redactedPostgresUrl(kept)})` : ` in ${workDir}`}`);
    } else {
      if (embeddedPostgresqlUrl) await dropPostgresDatabase(embeddedPostgresqlUrl);
      rmSync(join(workDir, 'db-shared'), { recursive: true, force: true });
    }
  }

  const failed = results.filter((r) => !r.passed && !r.skipped);
  const summary = {
    mode: args.mode,
    seed: args.seed,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    database,
    passed: failed.length === 0,
    results,
    markdown: markdown(results),
  };
  const json = JSON.stringify(summary, null, 2);
  writeFileSync(join(resultsDir, `${stamp}-${args.mode}.json`), json);
  rmSync(join(resultsDir, `${stamp}-${args.mode}.partial.json`), { force: true });
  writeFileSync(join(resultsDir, `latest-${args.mode}.json`), json);
  // A pass whose settling ran into its deadline is kept too: that run's service logs are the only record
  // of why an instance left callbacks unanswered.
  const capped = results.filter((r) => r.details.settle_capped !== undefined);
  if (failed.length === 0 && capped.length === 0 && !args.keep) rmSync(workDir, { recursive: true, force: true });

  process.stdout.write(`\n${table(results)}\n\n`);
  process.stdout.write(`${results.length - failed.length}/${results.length} scenarios passed in ${summary.seconds} s (mode ${args.mode}, seed ${args.seed}); results in ${join(resultsDir, `${stamp}-${args.mode}.json`)}\n`);
  if (failed.length > 0) process.stdout.write(`failed: ${failed.map((r) => r.scenario).join(', ')}; logs kept in ${workDir}\n`);
  else if (capped.length > 0) process.stdout.write(`settling ran into its deadline in ${capped.map((r) => r.scenario).join(', ')}; logs kept in ${workDir}\n`);
  return failed.length === 0 ? 0 : 1;
}
