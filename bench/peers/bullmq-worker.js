'use strict';
// BullMQ on the local Redis: a worker whose processor makes the provider request.
// Env: REDIS_URL, QUEUE, BUILD_DIR, FAKE_URL, SID, TOKEN, FROM, CONCURRENCY.
const { Worker } = require('bullmq');
const IORedis = require('ioredis');
const { providerClient, callRequest } = require('./provider-client');

const env = process.env;
const client = providerClient(env.BUILD_DIR, env.FAKE_URL, env.SID, env.TOKEN);
const connection = new IORedis(env.REDIS_URL, { maxRetriesPerRequest: null });
const worker = new Worker(env.QUEUE, async (job) => client.calls.create(callRequest(job.data.to, env.FROM)), { connection, concurrency: Number(env.CONCURRENCY) });
worker.on('error', (e) => process.stderr.write(`bullmq: ${e.message}\n`));
worker.waitUntilReady().then(() => process.stdout.write('ready\n'));
process.on('SIGTERM', () => worker.close().finally(() => process.exit(0)));
