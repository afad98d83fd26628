'use strict';
// The database under test: MONGODB_URI if set, else the embedded server the tests use (same launcher).
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

async function startDatabase(buildDir, log) {
  let uri = process.env.MONGODB_URI;
  let stop = async () => undefined;
  let engine = 'external';
  let pid = null;
  let dataDir = null;
  if (!uri) {
    const { launchEmbeddedDatabase } = require(join(buildDir, 'database', 'embedded', 'embedded-database.launcher.js'));
    dataDir = mkdtempSync(join(tmpdir(), 'call-scheduler-bench-'));
    const db = await launchEmbeddedDatabase({
      dataDir,
      persistent: false,
      engine: process.env.EMBEDDED_DB_ENGINE ?? 'auto',
      toolsDir: join(ROOT, '.tools'),
      projectRoot: ROOT,
      allowInstall: true,
      log: (m) => log(`[db] ${m}`),
    });
    uri = db.uri;
    engine = db.engine;
    pid = findServerPid(dataDir);
    stop = async () => {
      await db.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  }
  const client = new MongoClient(uri, { maxPoolSize: 64 });
  await client.connect();
  const info = await client.db('admin').command({ buildInfo: 1 });
  const version = info.ferretdbVersion ? `ferretdb ${info.ferretdbVersion} (MongoDB API ${info.version})` : `mongodb ${info.version}`;
  return {
    uri,
    client,
    engine,
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
