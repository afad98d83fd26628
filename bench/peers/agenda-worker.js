'use strict';
// Raw Agenda 6 with the same backend and database engine: one job per call, handler = the provider request.
// Env: MONGODB_URI, BUILD_DIR, FAKE_URL, SID, TOKEN, FROM, CONCURRENCY, POLL_MS.
const { Agenda } = require('agenda');
const { MongoBackend } = require('@agendajs/mongo-backend');
const { providerClient, callRequest } = require('./provider-client');

(async () => {
  const env = process.env;
  const client = providerClient(env.BUILD_DIR, env.FAKE_URL, env.SID, env.TOKEN);
  const concurrency = Number(env.CONCURRENCY);
  const agenda = new Agenda({
    backend: new MongoBackend({ address: env.MONGODB_URI, collection: 'agenda_jobs', ensureIndex: true }),
    processEvery: Number(env.POLL_MS),
    maxConcurrency: concurrency,
    defaultConcurrency: concurrency,
  });
  agenda.define('bench.call', async (job) => {
    await client.calls.create(callRequest(job.attrs.data.to, env.FROM));
  });
  agenda.on('error', (e) => process.stderr.write(`agenda: ${e.message}\n`));
  await agenda.start();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => agenda.stop().finally(() => process.exit(0)));
})().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
