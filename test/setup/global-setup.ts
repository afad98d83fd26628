import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describeEmbeddedDatabase, launchEmbeddedDatabase } from '../../src/database/embedded/embedded-database.launcher';
import { ferretDbPostgresqlServer, freshPostgresqlDatabase } from '../../src/database/embedded/ferretdb-server';

// FerretDB's storage for this run: a fresh PostgreSQL database when a PostgreSQL answers (the server of
// FERRETDB_POSTGRESQL_URL, else the local one), SQLite when TEST_FERRETDB_HANDLER=sqlite or none answers.
async function postgresqlForRun(): Promise<string | undefined> {
  const server = await ferretDbPostgresqlServer(process.env.TEST_FERRETDB_HANDLER, process.env.FERRETDB_POSTGRESQL_URL);
  return server && freshPostgresqlDatabase(server, 'call_scheduler_test');
}

// One database server for the whole run; each test file then works in a database of its own.
// The unit tier alone (npm run test:unit sets TEST_NO_DATABASE) needs no database.
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_NO_DATABASE) return;
  if (process.env.MONGODB_URI) {
    process.env.TEST_MONGODB_URI = process.env.MONGODB_URI;
    process.env.TEST_DB_ENGINE = 'external';
    return;
  }
  const root = resolve(__dirname, '../..');
  const started = Date.now();
  const postgresqlUrl = await postgresqlForRun();
  const db = await launchEmbeddedDatabase({
    dataDir: mkdtempSync(join(tmpdir(), 'call-scheduler-test-')),
    persistent: false,
    engine: (process.env.EMBEDDED_DB_ENGINE as 'auto' | undefined) ?? 'auto',
    toolsDir: join(root, '.tools'),
    projectRoot: root,
    allowInstall: true,
    ferretdbPostgresqlUrl: postgresqlUrl,
    log: (m) => process.stdout.write(`[test-db] ${m}\n`),
  });
  process.stdout.write(`\n[test-db] ${describeEmbeddedDatabase(db)} (${Date.now() - started} ms)\n`);
  process.env.TEST_MONGODB_URI = db.uri;
  process.env.TEST_DB_ENGINE = db.engine === 'ferretdb' ? `ferretdb ${db.version} ${db.handler}` : `${db.engine} ${db.version}`;
  const usedPostgresql = db.engine === 'ferretdb' && db.handler === 'postgresql' ? postgresqlUrl : undefined;
  (globalThis as { __TEST_DB__?: unknown }).__TEST_DB__ = { db, postgresqlUrl: usedPostgresql };
}
