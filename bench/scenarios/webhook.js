'use strict';
// 6. Webhook throughput: signed Twilio status callbacks (initiated, ringing, in-progress, completed) for
// seeded call logs, `concurrency` calls in flight over keep-alive connections.
const { randomBytes } = require('node:crypto');
const http = require('node:http');
const twilio = require('twilio');
const { callLog, insertInBatches } = require('../lib/seed');
const { pct, round, summarize } = require('../lib/util');

const PUBLIC_BASE = 'https://webhook-bench.example.com';
const PATH = '/webhook/call-status';

function callbacksFor(log) {
  const t0 = Date.now();
  const steps = [['initiated'], ['ringing'], ['in-progress'], ['completed', { CallDuration: '42', AnsweredBy: 'human' }]];
  return steps.map(([status, extra], seq) => ({
    query: `?call_log_id=${log._id.toHexString()}`,
    params: { AccountSid: `AC${'0'.repeat(32)}`, ApiVersion: '2010-04-01', CallSid: log.call_id, CallStatus: status, CallbackSource: 'call-progress-events', Direction: 'outbound-api', From: '+15005550006', SequenceNumber: String(seq), Timestamp: new Date(t0 + seq * 1000).toUTCString(), To: log.phone, ...(extra || {}) },
  }));
}

function post(agent, port, token, callback) {
  const body = new URLSearchParams(callback.params).toString();
  const signature = twilio.getExpectedTwilioSignature(token, `${PUBLIC_BASE}${PATH}${callback.query}`, callback.params);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      { host: '127.0.0.1', port, path: `${PATH}${callback.query}`, method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), 'x-twilio-signature': signature } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Each worker plays one call's callbacks in order, then takes the next call.
async function play(agent, port, token, logs, concurrency, latencies) {
  let next = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < logs.length) {
        const log = logs[next++];
        for (const callback of callbacksFor(log)) {
          const res = await post(agent, port, token, callback);
          latencies?.push(res.ms);
          if (res.status !== 200) failures++;
        }
      }
    }),
  );
  return failures;
}

async function webhook(ctx, plan) {
  const token = randomBytes(24).toString('hex');
  const dbName = ctx.newDbName('webhook');
  const svc = await ctx.service(dbName, 'simulated', { PUBLIC_BASE_URL: PUBLIC_BASE, SIMULATOR_SIGNING_TOKEN: token });
  const { count, concurrency } = plan.webhook;
  const runs = [];
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const warmup = Array.from({ length: Math.min(50, Math.ceil(count / 10)) }, (_, i) => callLog(i, 'bench', new Date()));
    await insertInBatches(svc.mdb.collection('call_logs'), warmup);
    await play(agent, svc.port, token, warmup, concurrency);
    for (let r = 0; r < plan.runs; r++) {
      const logs = Array.from({ length: count }, (_, i) => callLog(i, 'bench', new Date()));
      await insertInBatches(svc.mdb.collection('call_logs'), logs);
      const latencies = [];
      const started = process.hrtime.bigint();
      const failures = await play(agent, svc.port, token, logs, concurrency, latencies);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const completed = await svc.mdb.collection('call_logs').countDocuments({ _id: { $in: logs.map((l) => l._id) }, status: 'completed', duration: 42 });
      latencies.sort((a, b) => a - b);
      runs.push({ calls: count, requests: latencies.length, rps: round(latencies.length / seconds, 1), p50_ms: round(pct(latencies, 50)), p99_ms: round(pct(latencies, 99)), max_ms: round(latencies[latencies.length - 1]), non_200: failures, logs_completed: completed });
      ctx.log(`  webhook run ${r + 1}: ${runs[r].rps}/s p50 ${runs[r].p50_ms} ms p99 ${runs[r].p99_ms} ms; ${completed}/${count} completed`);
    }
    agent.destroy();
  } finally {
    await svc.stop(3000);
    await ctx.dropDb(dbName);
  }
  return { calls: count, concurrency, summary: { rps: summarize(runs.map((r) => r.rps)), p50_ms: summarize(runs.map((r) => r.p50_ms)), p99_ms: summarize(runs.map((r) => r.p99_ms)) }, runs };
}

module.exports = { webhook };
