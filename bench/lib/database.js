'use strict';
// The database under test: MONGODB_URI if set, else the embedded server the tests use (same launcher and
// the same choice of FerretDB's storage).
const { mkdtempSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { MongoClient } = require('mongodb');
const { ROOT } = require('./build');

function withDb(uri, name) {
  const u = new URL(uri);
  u.pathname = `/${name}`;
  return u.toString();
}

// The server process (by its data directory on the command line), for CPU readings.
function findServerPid(dataDir) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0] !== 'bash' && cmd.some((a) => a.includes(dataDir)) && /ferretdb|mongod/.test(cmd[0])) return Number(entry);
    } catch {}
  }
  return null;
}

function withParams(url, params) {
  const parsed = new URL(url);
  for (const [name, value] of Object.entries(params)) parsed.searchParams.set(name, value);
  return parsed.toString();
}

// `handler` ('postgresql' or 'sqlite') asks for an embedded FerretDB on that storage; left out, FerretDB stores
// on PostgreSQL when one answers (as the test suites do), in a fresh database dropped at stop.
// `postgresqlParams`: FerretDB's pool settings, as query parameters of its PostgreSQL URL.
async function startDatabase(buildDir, log, { handler, postgresqlParams = {} } = {}) {
  let uri = process.env.MONGODB_URI;
  let stop = async () => undefined;
  let engine = 'external';
  let dbHandler = null;
  let pid = null;
  let dataDir = null;
  if (!uri) {
    const embedded = join(buildDir, 'database', 'embedded');
    const { launchEmbeddedDatabase, describeEmbeddedDatabase } = require(join(embedded, 'embedded-database.launcher.js'));
    const { dropPostgresDatabase, ferretDbPostgresqlServer, freshPostgresqlDatabase } = require(join(embedded, 'ferretdb-server.js'));
    const server = await ferretDbPostgresqlServer(handler, process.env.FERRETDB_POSTGRESQL_URL);
    const fresh = server && (await freshPostgresqlDatabase(server, 'call_scheduler_bench'));
    const postgresqlUrl = fresh && withParams(fresh, postgresqlParams);
    const dropPostgresql = async () => postgresqlUrl && (await dropPostgresDatabase(postgresqlUrl));
    dataDir = mkdtempSync(join(tmpdir(), 'call-scheduler-bench-'));
    let db;
    try {
      db = await launchEmbeddedDatabase({
        dataDir,
        persistent: false,
        engine: handler ? 'ferretdb' : process.env.EMBEDDED_DB_ENGINE ?? 'auto',
        toolsDir: join(ROOT, '.tools'),
        projectRoot: ROOT,
        allowInstall: true,
        ferretdbPostgresqlUrl: postgresqlUrl,
        log: (m) => log(`[db] ${m}`),
      });
    } catch (error) {
      await dropPostgresql();
      throw error;
    }
    log(`[db] ${describeEmbeddedDatabase(db)}`);
    uri = db.uri;
    engine = db.engine;
    dbHandler = db.handler;
    pid = findServerPid(dataDir);
    stop = async () => {
      await db.stop();
      await dropPostgresql();
      rmSync(dataDir, { recursive: true, force: true });
    };
  }
  const client = new MongoClient(uri, { maxPoolSize: 64 });
  await client.connect();
  const info = await client.db('admin').command({ buildInfo: 1 });
  const version = info.ferretdbVersion ? `ferretdb ${info.ferretdbVersion} (${dbHandler ? `${dbHandler} handler, ` : ''}MongoDB API ${info.version})` : `mongodb ${info.version}`;
  return {
    uri,
    client,
    engine,
    handler: dbHandler,
    version,
    pid,
    dataDir,
    uriFor: (name) => withDb(uri, name),
    async stop() {
      await client.close().catch(() => undefined);
      await stop();
    },
  };
}

module.exports = { startDatabase, withDb };
