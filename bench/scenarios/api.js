'use strict';
// 3. API: POST /schedule/ under autocannon against raw insertOne of the same document on the same
// database; then the read routes with call logs present.
const autocannon = require('autocannon');
const { ObjectId } = require('mongodb');
const { seedCallLogs } = require('../lib/seed');
const { pct, round, summarize } = require('../lib/util');

function cannon(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ timeout: 60, ...opts }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

// No request finished within the window: the latencies are unknown (longer than the window), not zero.
// Throughput counts 2xx answers only: an error answer is not a served request.
function figures(r) {
  const none = r.requests.total === 0;
  return { rps: round(r['2xx'] / r.duration, 1), p50_ms: none ? null : r.latency.p50, p99_ms: none ? null : r.latency.p99, max_ms: none ? null : r.latency.max, requests: r.requests.total, non_2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts };
}

const summarizeRuns = (runs) => ({ rps: summarize(runs.map((r) => r.rps)), p50_ms: summarize(runs.map((r) => r.p50_ms)), p99_ms: summarize(runs.map((r) => r.p99_ms)) });

// The API's create body; its scheduled time is far enough out that nothing fires during the run.
const createBody = () => JSON.stringify({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 30 * 86_400_000).toISOString(), description: 'bench' });

async function postSchedule(ctx, svc, seconds, connections) {
  return figures(await cannon({ url: `${svc.url}/schedule/`, method: 'POST', connections, duration: seconds, headers: { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json' }, body: createBody() }));
}

// `connections` concurrent loops of insertOne of the schedule document the API stores.
async function rawInsert(svc, seconds, connections) {
  const collection = svc.mdb.collection('call_schedules');
  const template = svc.templates.oneTime.schedule;
  const latencies = [];
  const end = Date.now() + seconds * 1000;
  let errors = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const started = process.hrtime.bigint();
        try {
          await collection.insertOne({ ...template, _id: new ObjectId(), created_at: new Date(), last_updated: new Date() });
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        } catch {
          errors++;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { rps: round(latencies.length / seconds, 1), p50_ms: round(pct(latencies, 50)), p99_ms: round(pct(latencies, 99)), max_ms: round(latencies[latencies.length - 1]), requests: latencies.length, errors };
}

async function api(ctx, plan) {
  const dbName = ctx.newDbName('api');
  const svc = await ctx.service(dbName, 'simulated');
  const result = { post_seconds: plan.apiSeconds, connections: plan.postConnections, call_logs: plan.callLogs, post_schedule: [], raw_insert_one: [], reads: {} };
  try {
    for (let r = 0; r < plan.runs; r++) {
      result.post_schedule.push(await postSchedule(ctx, svc, plan.apiSeconds, plan.postConnections));
      result.raw_insert_one.push(await rawInsert(svc, plan.apiSeconds, plan.postConnections));
      ctx.log(`  POST /schedule/ run ${r + 1}: ${result.post_schedule[r].rps}/s p99 ${result.post_schedule[r].p99_ms} ms; raw insertOne ${result.raw_insert_one[r].rps}/s p99 ${result.raw_insert_one[r].p99_ms} ms`);
    }
    result.post_schedule_summary = summarizeRuns(result.post_schedule);
    result.raw_insert_one_summary = summarizeRuns(result.raw_insert_one);

    const seedStart = Date.now();
    await seedCallLogs(svc.mdb, plan.callLogs, 'bench');
    result.call_logs_seed_ms = Date.now() - seedStart;
    const id = (await svc.mdb.collection('call_schedules').findOne({ tenant_id: 'bench' }, { projection: { _id: 1 } }))._id.toHexString();
    const routes = { 'GET /schedule/{id}': `/schedule/${id}`, 'GET /schedule/tracking/logs': '/schedule/tracking/logs', 'GET /schedule/tracking/stats': '/schedule/tracking/stats' };
    for (const [name, path] of Object.entries(routes)) {
      const runs = [];
      for (let r = 0; r < plan.runs; r++) {
        runs.push(figures(await cannon({ url: `${svc.url}${path}`, connections: plan.readConnections, duration: plan.readSeconds, headers: { authorization: `Bearer ${ctx.token}` } })));
        ctx.log(`  ${name} run ${r + 1}: ${runs[r].rps}/s p50 ${runs[r].p50_ms} ms p99 ${runs[r].p99_ms} ms (non-2xx ${runs[r].non_2xx})`);
      }
      result.reads[name] = { summary: summarizeRuns(runs), runs, connections: plan.readConnections, seconds: plan.readSeconds };
    }
  } finally {
    await svc.stop(3000);
    await ctx.dropDb(dbName);
  }
  return result;
}

module.exports = { api, cannon, figures, summarizeRuns: summarizeRuns };
