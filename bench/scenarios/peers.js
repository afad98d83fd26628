'use strict';
// 2. Peers on the same machine: raw Agenda 6 on the same database server, BullMQ on the local Redis, and
// graphile-worker on the local PostgreSQL, each with the same N jobs due at T and a handler that makes the
// service's provider request.
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { join } = require('node:path');
const { ObjectId } = require('mongodb');
const { ACCOUNT_SID, AUTH_TOKEN, FROM } = require('../lib/fake-provider');
const { insertInBatches } = require('../lib/seed');
const { leadMs, fmt, stalled } = require('../lib/burst');
const { lagFigures } = require('../lib/util');
const { summarizeRuns } = require('./fire');

const CONCURRENCY = 256; // SCHEDULER_DISPATCH_CONCURRENCY's default: each peer may have as many jobs in flight as we have dispatches
const POLL_MS = 1000; // a 1 s poll for jobs due later: what a user after calls on time would give raw Agenda (its default is 5 s) and graphile-worker (2 s)
// 64 connections plus FerretDB's stay under PostgreSQL's default max_connections of 100: graphile-worker
// runs its 256 jobs at once over them (it warns that its pool is smaller than its concurrency).
const GRAPHILE_POOL = 64;

function startWorker(script, env) {
  const child = spawn(process.execPath, [join(__dirname, '..', 'peers', script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err = (err + c).slice(-2000)));
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => String(c).includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${err}`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    ready,
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

const phone = (i) => `+1415${String(5000000 + i).padStart(7, '0')}`;

function agendaJob(i, dueAt) {
  return { _id: new ObjectId(), name: 'bench.call', data: { to: phone(i) }, type: 'normal', priority: 0, nextRunAt: dueAt, lockedAt: null, lastFinishedAt: null, failedAt: null, failCount: null, failReason: null, repeatTimezone: null, lastRunAt: null, repeatInterval: null, repeatAt: null, disabled: null, progress: null, lastModifiedBy: null };
}

async function measure(ctx, n, capMs, seed) {
  ctx.fake.reset();
  const dueAt = new Date(Date.now() + leadMs(n));
  await seed(dueAt);
  const seededAt = Date.now();
  await ctx.until(() => Date.now() >= dueAt.getTime() && ctx.fake.arrivals.length >= n, dueAt.getTime() + capMs - Date.now(), 100);
  return { ...lagFigures(ctx.fake.arrivals.slice(0, n).map((a) => a.at), dueAt.getTime(), n), cap_ms: capMs, seed_overran_due_time: seededAt > dueAt.getTime() - 300 };
}

const workerEnv = (ctx) => ({ BUILD_DIR: ctx.buildDir, FAKE_URL: ctx.fake.url, SID: ACCOUNT_SID, TOKEN: AUTH_TOKEN, FROM, CONCURRENCY: String(CONCURRENCY) });

async function agendaRun(ctx, n, capMs) {
  const dbName = ctx.newDbName('peer_agenda');
  const worker = startWorker('agenda-worker.js', { ...workerEnv(ctx), MONGODB_URI: ctx.db.uriFor(dbName), POLL_MS: String(POLL_MS) });
  try {
    await worker.ready;
    return await measure(ctx, n, capMs, (dueAt) => insertInBatches(ctx.db.client.db(dbName).collection('agenda_jobs'), Array.from({ length: n }, (_, i) => agendaJob(i, dueAt))));
  } finally {
    await worker.stop();
    await ctx.dropDb(dbName);
  }
}

async function bullmqRun(ctx, n, capMs, redisUrl) {
  const { Queue } = require('bullmq');
  const IORedis = require('ioredis');
  const queueName = `bench-${randomBytes(4).toString('hex')}`;
  const connection = new IORedis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection });
  const worker = startWorker('bullmq-worker.js', { ...workerEnv(ctx), REDIS_URL: redisUrl, QUEUE: queueName });
  try {
    await worker.ready;
    return await measure(ctx, n, capMs, async (dueAt) => {
      for (let i = 0; i < n; i += 1000) {
        const delay = Math.max(0, dueAt.getTime() - Date.now());
        await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: 'call', data: { to: phone(i + k) }, opts: { delay, removeOnComplete: true } })));
      }
    });
  } finally {
    await worker.stop();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
}

// A fresh database on the PostgreSQL server FerretDB would store on; graphile-worker migrates its schema into it.
async function graphileRun(ctx, n, capMs, server) {
  const { Client } = require('pg');
  const { ensurePostgresDatabase, dropPostgresDatabase, freshPostgresqlDatabase } = require(join(ctx.buildDir, 'database', 'embedded', 'ferretdb-server.js'));
  const url = await freshPostgresqlDatabase(server, 'bench_peer_graphile');
  if (!url) throw new Error('PostgreSQL stopped answering');
  await ensurePostgresDatabase(url);
  const worker = startWorker('graphile-worker.js', { ...workerEnv(ctx), DATABASE_URL: url, POLL_MS: String(POLL_MS), POOL: String(GRAPHILE_POOL) });
  const client = new Client({ connectionString: url });
  try {
    await worker.ready;
    await client.connect();
    return await measure(ctx, n, capMs, async (dueAt) => {
      for (let i = 0; i < n; i += 1000) {
        const phones = Array.from({ length: Math.min(1000, n - i) }, (_, k) => phone(i + k));
        await client.query(
          `select count(*) from graphile_worker.add_jobs(
             (select array_agg(row('bench.call', json_build_object('to', t), null, $1::timestamptz, null, null, null, null)::graphile_worker.job_spec) from unnest($2::text[]) t))`,
          [dueAt, phones],
        );
      }
    });
  } finally {
    await worker.stop();
    await client.end().catch(() => undefined);
    await dropPostgresDatabase(url).catch(() => undefined);
  }
}

async function postgresqlServer(ctx) {
  const { ferretDbPostgresqlServer } = require(join(ctx.buildDir, 'database', 'embedded', 'ferretdb-server.js'));
  return ferretDbPostgresqlServer(undefined, process.env.FERRETDB_POSTGRESQL_URL);
}

async function peers(ctx, plan) {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const postgresql = await postgresqlServer(ctx);
  const result = { concurrency: CONCURRENCY, poll_ms: POLL_MS, redis: redisUrl, graphile_pool: GRAPHILE_POOL, peers: {} };
  const runners = [
    ['agenda', (n, cap) => agendaRun(ctx, n, cap)],
    ['bullmq', (n, cap) => bullmqRun(ctx, n, cap, redisUrl)],
  ];
  if (postgresql) runners.push(['graphile-worker', (n, cap) => graphileRun(ctx, n, cap, postgresql)]);
  else ctx.log('  graphile-worker skipped: no PostgreSQL answers');
  for (const [peer, run] of runners) {
    result.peers[peer] = {};
    for (const n of plan.fireSizes) {
      const runs = [];
      for (let r = 0; r < plan.runs && !runs.some(stalled); r++) {
        try {
          const fig = await run(n, plan.capFor(n));
          runs.push(fig);
          ctx.log(`  ${peer} N=${n} run ${r + 1}: ${fig.done}/${n} p50 ${fmt(fig.p50)} p99 ${fmt(fig.p99)} max ${fmt(fig.max)} ${fig.per_second ?? '-'}/s`);
        } catch (error) {
          ctx.log(`  ${peer} N=${n} run ${r + 1} failed: ${error.message}`);
          result.peers[peer].error = error.message;
        }
      }
      result.peers[peer][n] = { summary: summarizeRuns(runs), runs };
    }
  }
  return result;
}

module.exports = { peers };
