'use strict';
// graphile-worker 0.16, a durable queue on the local PostgreSQL: one job per call, task = the provider request.
// Env: DATABASE_URL, BUILD_DIR, FAKE_URL, SID, TOKEN, FROM, CONCURRENCY, POLL_MS, POOL.
const { Logger, run } = require('graphile-worker');
const { providerClient, callRequest } = require('./provider-client');

(async () => {
  const env = process.env;
  const client = providerClient(env.BUILD_DIR, env.FAKE_URL, env.SID, env.TOKEN);
  const runner = await run({
    connectionString: env.DATABASE_URL,
    concurrency: Number(env.CONCURRENCY),
    maxPoolSize: Number(env.POOL),
    // Jobs due in the future are found by polling (LISTEN/NOTIFY only wakes it for jobs due now).
    pollInterval: Number(env.POLL_MS),
    noHandleSignals: true,
    logger: new Logger(() => (level, message) => {
      if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
    }),
    taskList: {
      'bench.call': async (payload) => {
        await client.calls.create(callRequest(payload.to, env.FROM));
      },
    },
  });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => runner.stop().finally(() => process.exit(0)));
})().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
