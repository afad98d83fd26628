'use strict';
// What every scenario gets: the database, the build, the fake provider, sizes for the chosen mode, and
// helpers to start the service against a database of its own.
const { randomBytes } = require('node:crypto');
const { join } = require('node:path');
const jwt = require('jsonwebtoken');
const { startService } = require('./service');
const { twilioEnv } = require('./fake-provider');
const { captureTemplates } = require('./seed');
const { sleep } = require('./util');


function createContext({ db, buildDir, fake, profile, log, logDir }) {
  const secret = randomBytes(32).toString('hex');
  const token = jwt.sign({ sub: 'bench' }, secret, { expiresIn: '6h' });
  let dbCounter = 0;
  return {
    db,
    buildDir,
    fake,
    profile,
    log,
    secret,
    token,
    newDbName(label) {
      return `bench_${label.replace(/[^a-z0-9]+/gi, '_')}_${++dbCounter}`;
    },
    // A service in production mode on database `dbName`; mode twilio dials the fake, simulated the simulator.
    async service(dbName, mode, env = {}, opts = {}) {
      const svc = await startService(
        buildDir,
        { MONGODB_URI: db.uriFor(dbName), JWT_SECRET: secret, CALLS_PER_SECOND: '0', ...(mode === 'twilio' ? twilioEnv(fake.url) : { CALL_PROVIDER: 'simulated' }), ...env },
        { logFile: join(logDir, 'service.log'), ...opts },
      );
      svc.dbName = dbName;
      svc.mdb = db.client.db(dbName);
      svc.templates = opts.templates ?? (await captureTemplates(svc.mdb, svc.url, token, buildDir));
      return svc;
    },
    // FerretDB 1.24 (SQLite) can die with SIGBUS when a database is dropped while a just-killed service's
    // queries on it are still running, so its databases stay until the data directory goes at the end.
    async dropDb(dbName) {
      if (db.engine === 'ferretdb') return;
      await db.client.db(dbName).dropDatabase().catch((e) => log(`drop ${dbName}: ${e.message}`));
    },
    // Waits until check() is true or the cap passes; returns whether it finished.
    async until(check, capMs, everyMs = 200) {
      const end = Date.now() + capMs;
      while (Date.now() < end) {
        if (await check()) return true;
        await sleep(everyMs);
      }
      return check();
    },
  };
}

module.exports = { createContext };
