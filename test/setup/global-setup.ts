import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchEmbeddedDatabase } from '../../src/database/embedded/embedded-database.launcher';

// One database server for the whole run; each test file then works in a database of its own.
export default async function globalSetup(): Promise<void> {
  if (process.env.MONGODB_URI) {
    process.env.TEST_MONGODB_URI = process.env.MONGODB_URI;
    process.env.TEST_DB_ENGINE = 'external';
    return;
  }
  const root = resolve(__dirname, '../..');
  const started = Date.now();
  const db = await launchEmbeddedDatabase({
    dataDir: mkdtempSync(join(tmpdir(), 'call-scheduler-test-')),
    persistent: false,
    engine: (process.env.EMBEDDED_DB_ENGINE as 'auto' | undefined) ?? 'auto',
    toolsDir: join(root, '.tools'),
    projectRoot: root,
    allowInstall: true,
    log: (m) => process.stdout.write(`[test-db] ${m}\n`),
  });
  process.stdout.write(`\n[test-db] ${db.engine} ${db.version} at ${db.uri} (${Date.now() - started} ms)\n`);
  process.env.TEST_MONGODB_URI = db.uri;
  process.env.TEST_DB_ENGINE = `${db.engine} ${db.version}`;
  (globalThis as { __TEST_DB__?: { stop(): Promise<void> } }).__TEST_DB__ = db;
}
