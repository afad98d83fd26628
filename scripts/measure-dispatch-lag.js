#!/usr/bin/env node
// Measures due-time-to-dispatch lag for N one-time schedules due at the same instant, against the built
// service (dist/) with the simulated provider. Usage:
//   node scripts/measure-dispatch-lag.js --uri mongodb://127.0.0.1:27017/lag --count 1000 [--instances 1]
// The database named in --uri is dropped first. Prints p50/p95/p99/max lag and the drain time.
'use strict';
const { randomBytes } = require('node:crypto');
const { MongoClient } = require('mongodb');
const jwt = require('jsonwebtoken');
const { arg, pct, sleep, startService } = require('./lib/bench-harness');

const uri = arg('uri');
const count = Number(arg('count', '1000'));
const instances = Number(arg('instances', '1'));
if (!uri) {
  console.error('usage: measure-dispatch-lag.js --uri <mongodb uri with db name> [--count N] [--instances K]');
  process.exit(2);
}

(async () => {
  const client = new MongoClient(uri);
  await client.connect();
  await client.db().dropDatabase();
  const secret = randomBytes(32).toString('hex');
  const ports = [];
  for (let i = 0; i < instances; i++) {
    const { port } = await startService({ MONGODB_URI: uri, JWT_SECRET: secret, LOG_LEVEL: 'warn', SIMULATOR_STEP_MS: process.env.SIMULATOR_STEP_MS ?? '500' });
    ports.push(port);
  }
  const token = jwt.sign({ sub: 'lag-bench' }, secret, { expiresIn: '1h' });
  const due = new Date(Math.ceil((Date.now() + 20_000 + count * 120) / 1000) * 1000);
  const created = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        next++;
        const res = await fetch(`http://127.0.0.1:${ports[next % ports.length]}/schedule/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ phone: '+14155552671', scheduled_time: due.toISOString() }),
        });
        if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
      }
    }),
  );
  console.log(`created ${count} schedules in ${Date.now() - created} ms; due at ${due.toISOString()}`);
  const events = client.db().collection('schedule_events');
  const deadline = due.getTime() + 15 * 60_000;
  // Done when every occurrence is handled: dialed, or missed past the misfire grace time.
  while (Date.now() < deadline) {
    if ((await events.countDocuments({ type: { $in: ['dispatched', 'missed'] } })) >= count) break;
    await sleep(1000);
  }
  const missed = await events.countDocuments({ type: 'missed' });
  const lags = (await events.find({ type: 'dispatched' }, { projection: { 'data.lag_ms': 1 } }).toArray()).map((e) => e.data.lag_ms).sort((a, b) => a - b);
  const claims = await client.db().collection('occurrence_claims').countDocuments({});
  const drainMs = lags.length ? lags[lags.length - 1] : NaN;
  console.log(
    JSON.stringify({
      count,
      instances,
      dispatched: lags.length,
      missed,
      claims,
      lag_ms: { p50: pct(lags, 50), p95: pct(lags, 95), p99: pct(lags, 99), max: lags[lags.length - 1] },
      drain_ms: drainMs,
      dispatches_per_second: lags.length ? Math.round((lags.length / (drainMs / 1000)) * 10) / 10 : 0,
    }),
  );
  stop();
  await client.close();
  process.exit(lags.length + missed === count ? 0 : 1);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
