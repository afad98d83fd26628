#!/usr/bin/env node
// Measures the status-callback webhook (/webhook/call-status) against the built service (dist/): seeds N call
// logs, then plays each call's 4 signed Twilio callbacks (initiated, ringing, in-progress, completed) with
// `--concurrency` calls in flight over keep-alive connections. Usage (build first with `npx nest build`):
//   node scripts/measure-webhook-throughput.js --uri mongodb://127.0.0.1:27017/wh --count 500 [--concurrency 20]
//     [--duplicates 0.1] [--by-sid]
// The database named in --uri is dropped first. `--duplicates F` redelivers a fraction F of the callbacks;
// `--by-sid` leaves call_log_id out of the URL so that every callback is looked up by CallSid.
// Prints requests/second, p50/p99/max latency and a correctness check of the final logs.
'use strict';
const { randomBytes } = require('node:crypto');
const http = require('node:http');
const os = require('node:os');
const { MongoClient, ObjectId } = require('mongodb');
const twilio = require('twilio');
const { arg, pct, startService } = require('./lib/bench-harness');

const uri = arg('uri');
const count = Number(arg('count', '500'));
const concurrency = Number(arg('concurrency', '20'));
const duplicates = Number(arg('duplicates', '0'));
const bySid = process.argv.includes('--by-sid');
const warmupCalls = Math.min(50, Math.ceil(count / 10));
if (!uri || !(count > 0) || !(concurrency > 0)) {
  console.error('usage: measure-webhook-throughput.js --uri <mongodb uri with db name> [--count N] [--concurrency C] [--duplicates F] [--by-sid]');
  process.exit(2);
}
const PUBLIC_BASE = 'https://webhook-bench.example.com';
const PATH = '/webhook/call-status';
const signingToken = randomBytes(24).toString('hex');

const round = (n, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

function seedDoc(i, now) {
  const _id = new ObjectId();
  return {
    _id,
    tenant_id: 'bench',
    created_by: 'bench',
    user_profile_id: null,
    agent_instance_id: null,
    schedule_id: null,
    occurrence_at: now,
    call_id: `CA${randomBytes(16).toString('hex')}`,
    provider: 'simulated',
    status: 'queued',
    call_type: 'outbound',
    phone: '+14155552671',
    timestamp: now,
    start_time: null,
    end_time: null,
    duration: null,
    notes: null,
    metadata: { bench: i },
    attempt_number: 1,
    answered_by: null,
    error_code: null,
    error_message: null,
    timeline: [{ status: 'queued', ts: now, received_at: now, sequence_number: null, source: 'dispatcher', provider_status: null }],
    last_updated: now,
    outcome_recorded_at: null,
  };
}

function callbacksFor(log) {
  const t0 = Date.now();
  const steps = [['initiated'], ['ringing'], ['in-progress'], ['completed', { CallDuration: '42', AnsweredBy: 'human' }]];
  return steps.map(([status, extra], seq) => ({
    query: bySid ? '' : `?call_log_id=${log._id.toHexString()}`,
    params: {
      AccountSid: `AC${'0'.repeat(32)}`,
      ApiVersion: '2010-04-01',
      CallSid: log.call_id,
      CallStatus: status,
      CallbackSource: 'call-progress-events',
      Direction: 'outbound-api',
      From: '+15005550006',
      SequenceNumber: String(seq),
      Timestamp: new Date(t0 + seq * 1000).toUTCString(),
      To: log.phone,
      ...(extra || {}),
    },
  }));
}

function post(agent, port, callback) {
  const body = new URLSearchParams(callback.params).toString();
  const signature = twilio.getExpectedTwilioSignature(signingToken, `${PUBLIC_BASE}${PATH}${callback.query}`, callback.params);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: `${PATH}${callback.query}`,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), 'x-twilio-signature': signature },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Each worker plays one call's callbacks in order, then takes the next call: `concurrency` calls in flight.
async function play(agent, port, logs, latencies, failures) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < logs.length) {
        const log = logs[next++];
        for (const callback of callbacksFor(log)) {
          const deliveries = Math.random() < duplicates ? 2 : 1;
          for (let d = 0; d < deliveries; d++) {
            const res = await post(agent, port, callback);
            latencies.push(res.ms);
            if (res.status !== 200) failures.push(`${res.status} ${res.text.slice(0, 200)}`);
          }
        }
      }
    }),
  );
}

(async () => {
  const client = new MongoClient(uri);
  await client.connect();
  await client.db().dropDatabase();
  const { port, stop } = await startService({
    MONGODB_URI: uri,
    JWT_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'error',
    PUBLIC_BASE_URL: PUBLIC_BASE,
    SIMULATOR_SIGNING_TOKEN: signingToken,
  });

  const now = new Date();
  const docs = Array.from({ length: count + warmupCalls }, (_, i) => seedDoc(i, now));
  for (let i = 0; i < docs.length; i += 500) await client.db().collection('call_logs').insertMany(docs.slice(i, i + 500));
  const warmup = docs.slice(0, warmupCalls);
  const measured = docs.slice(warmupCalls);

  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  await play(agent, port, warmup, [], []);
  const latencies = [];
  const failures = [];
  const started = process.hrtime.bigint();
  await play(agent, port, measured, latencies, failures);
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();

  const ids = measured.map((d) => d._id);
  const logs = client.db().collection('call_logs');
  const completed = await logs.countDocuments({ _id: { $in: ids }, status: 'completed', duration: 42 });
  const withFullTimeline = await logs.countDocuments({ _id: { $in: ids }, timeline: { $size: 5 } });
  latencies.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      calls: count,
      requests: latencies.length,
      concurrency,
      duplicates,
      lookup: bySid ? 'CallSid' : 'call_log_id',
      non_200: failures.length,
      first_failures: failures.slice(0, 3),
      elapsed_s: round(elapsedS, 2),
      requests_per_second: round(latencies.length / elapsedS),
      latency_ms: { p50: round(pct(latencies, 50)), p90: round(pct(latencies, 90)), p99: round(pct(latencies, 99)), max: round(latencies[latencies.length - 1]) },
      logs_completed: completed,
      logs_with_all_4_callbacks: withFullTimeline,
      machine: { cpus: os.cpus().length, loadavg_1m: round(os.loadavg()[0], 2), node: process.version },
    }),
  );
  stop();
  await client.close();
  process.exit(failures.length === 0 && completed === count && withFullTimeline === count ? 0 : 1);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
