import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import {
  EmbeddedDatabase,
  launchEmbeddedDatabase,
  LaunchOptions,
  NoEmbeddedEngineError,
} from '../../src/database/embedded/embedded-database.launcher';
import { dropPostgresDatabase, ensurePostgresDatabase } from '../../src/database/embedded/ferretdb-server';
import { FakeMongodbMirror } from '../fakes/fake-mongodb-mirror.server';

const ROOT = resolve(__dirname, '../..');
const HOUR = 60 * 60 * 1000;

// The FerretDB binary this machine has (PATH or .tools/), for the fallback; null on a Node-only machine.
function ferretDbBinary(): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), join(ROOT, '.tools')]) {
    if (dir && existsSync(join(dir, 'ferretdb'))) return join(dir, 'ferretdb');
  }
  return null;
}

describe('embedded database launcher (real engines, fake download mirror)', () => {
  const mirror = new FakeMongodbMirror();
  const ferretdb = ferretDbBinary();
  let work: string;
  let toolsDir: string;
  let clock: number;
  const started: EmbeddedDatabase[] = [];
  const logs: string[] = [];

  // auto order, with no mongod to be found and MongoDB's archives served by the fake mirror.
  const options = (): LaunchOptions => ({
    dataDir: mkdtempSync(join(work, 'data-')),
    persistent: false,
    engine: 'auto',
    toolsDir,
    projectRoot: ROOT,
    allowInstall: false,
    searchPath: join(work, 'empty-path'),
    // A version no machine has cached, so the launcher must go to the (fake) download host.
    mongodbDownload: { version: '7.0.3', probeTimeoutMs: 1000, mirror: mirror.url, failureFile: join(toolsDir, 'mongodb-download.json') },
    now: () => clock,
    log: (m) => logs.push(m),
  });

  const launch = async (): Promise<{ db: EmbeddedDatabase | null; reasons: string[] }> => {
    try {
      const db = await launchEmbeddedDatabase(options());
      started.push(db);
      return { db, reasons: db.skipped };
    } catch (error) {
      if (ferretdb || !(error instanceof NoEmbeddedEngineError)) throw error;
      return { db: null, reasons: error.message.split('\n') };
    }
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'launcher-test-'));
    toolsDir = join(work, 'tools');
    mkdirSync(toolsDir);
    if (ferretdb) symlinkSync(ferretdb, join(toolsDir, 'ferretdb'));
    await mirror.start();
  });
  afterAll(async () => {
    for (const db of started) await db.stop();
    await mirror.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('offline: gives up on the download at its bound, says why, falls back, and does not wait again for a day', async () => {
    clock = Date.parse('2026-12-03T09:00:00Z');
    mirror.mode = 'hang';
    const first = await launch();
    expect(mirror.requests).toHaveLength(1);
    expect(mirror.requests[0].method).toBe('HEAD');
    expect(mirror.requests[0].path).toMatch(/mongodb-linux-.*-7\.0\.3\.tgz$/);
    expect(first.reasons.join('\n')).toContain('mongod: not on PATH');
    expect(first.reasons.join('\n')).toMatch(/mongodb-memory-server: MongoDB 7\.0\.3 is not cached and cannot be downloaded: .* gave no answer within 1000 ms/);
    if (ferretdb) {
      expect(first.db).toMatchObject({ engine: 'ferretdb', handler: 'sqlite' });
      const client = await MongoClient.connect(first.db!.uri);
      await client.db('launcher').collection('probe').insertOne({ ok: 1 });
      expect(await client.db('launcher').collection('probe').countDocuments()).toBe(1);
      await client.close();
    }
    const failure = JSON.parse(readFileSync(join(toolsDir, 'mongodb-download.json'), 'utf8'));
    expect(failure).toMatchObject({ version: '7.0.3', failed_at: '2026-12-03T09:00:00.000Z' });

    // An hour later: the remembered failure is the answer, and the mirror is not asked again.
    clock += HOUR;
    const second = await launch();
    expect(mirror.requests).toHaveLength(1);
    expect(second.reasons.join('\n')).toMatch(
      /mongodb-memory-server: MongoDB 7\.0\.3 is not cached and its download failed at 2026-12-03T09:00:00\.000Z .* not retried before 2026-12-04T09:00:00\.000Z/,
    );
    if (ferretdb) expect(second.db?.engine).toBe('ferretdb');

    // A day after the failure it tries again: a mirror that answers 404 is a quick, stated failure.
    clock += 24 * HOUR;
    mirror.mode = 'not-found';
    const third = await launch();
    expect(mirror.requests).toHaveLength(2);
    expect(third.reasons.join('\n')).toMatch(/mongodb-memory-server: .* answered HTTP 404/);
    expect(JSON.parse(readFileSync(join(toolsDir, 'mongodb-download.json'), 'utf8')).failed_at).toBe('2026-12-04T10:00:00.000Z');
  });

  it('names every engine it passed over, with the commands that fix it, when none can start', async () => {
    clock = Date.parse('2026-12-10T09:00:00Z');
    mirror.mode = 'not-found';
    const noFerret = mkdtempSync(join(work, 'tools-empty-'));
    const error = await launchEmbeddedDatabase({ ...options(), toolsDir: noFerret, mongodbDownload: { ...options().mongodbDownload, failureFile: join(noFerret, 'f.json') } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoEmbeddedEngineError);
    const message = (error as Error).message;
    expect(message).toContain('mongod: not on PATH');
    expect(message).toContain('answered HTTP 404');
    expect(message).toContain('ferretdb: not on PATH nor in');
    expect(message).toContain('MONGODB_URI=mongodb://localhost:27017/call_scheduler npm start');
    expect(message).toContain('npm run db:install');
  });

  // Where the suite itself runs on FerretDB's PostgreSQL handler (global-setup found a PostgreSQL).
  const onPostgresql = ferretdb !== null && (process.env.TEST_DB_ENGINE ?? '').endsWith('postgresql');
  (onPostgresql ? it : it.skip)('runs FerretDB on PostgreSQL when given a URL, creating the database, with its _id and listed equality lookups indexed', async () => {
    const url = new URL(process.env.FERRETDB_POSTGRESQL_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
    url.pathname = `/launcher_test_${process.pid}_${Date.now()}`;
    const name = url.pathname.slice(1);
    const pg = new Client({ connectionString: url.toString() });
    try {
      await ensurePostgresDatabase(url.toString());
      await pg.connect();
      // A table from before the launcher indexed anything (a database an older version used).
      await pg.query('CREATE SCHEMA older; CREATE TABLE older.stored (_jsonb jsonb); CREATE TABLE older.call_logs_0123abcd (_jsonb jsonb)');
      // And the trigger of the first version, whose function lived in public (here one that indexes nothing):
      // the tables FerretDB makes below are indexed only if the launcher points the trigger at its own.
      await pg.query(`CREATE FUNCTION public.call_scheduler_index_new_tables() RETURNS event_trigger LANGUAGE plpgsql AS $f$ BEGIN END $f$;
        CREATE EVENT TRIGGER call_scheduler_index_ids ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION public.call_scheduler_index_new_tables()`);
      // FerretDB's sessions then take an index wherever one serves, even on a table of two rows: the reads and
      // writes below go through the new index, and must find what a scan finds.
      await pg.query(`ALTER DATABASE "${name}" SET enable_seqscan = off`);
      const logged = logs.length;
      const db = await launchEmbeddedDatabase({ ...options(), engine: 'ferretdb', ferretdbPostgresqlUrl: url.toString() });
      started.push(db);
      expect(db).toMatchObject({ engine: 'ferretdb', handler: 'postgresql' });
      expect(logs.slice(logged).join('\n')).not.toContain('scans its tables');
      const client = await MongoClient.connect(db.uri);
      const probe = client.db('launcher_pg').collection<{ _id: string; ok: number }>('probe');
      await probe.insertMany([{ _id: 'a', ok: 1 }, { _id: 'b', ok: 2 }]);
      expect(await probe.findOne({ _id: 'b' })).toEqual({ _id: 'b', ok: 2 });
      expect(await probe.findOne({ _id: 'c' })).toBeNull();
      expect((await probe.updateOne({ _id: 'a' }, { $set: { ok: 3 } })).modifiedCount).toBe(1);
      expect((await probe.deleteOne({ _id: 'b' })).deletedCount).toBe(1);
      expect(await probe.find({}).toArray()).toEqual([{ _id: 'a', ok: 3 }]);
      // A listed key (EQUALITY_INDEXES) of a listed collection: found and updated by equality through its index.
      const hour = new Date('2026-12-07T10:00:00Z');
      const callLogs = client.db('launcher_pg').collection<{ _id: string; hour: Date; n: number }>('call_logs');
      await callLogs.insertMany([{ _id: 'l1', hour, n: 1 }, { _id: 'l2', hour: new Date(hour.getTime() + 3_600_000), n: 2 }, { _id: 'l3', hour, n: 3 }]);
      expect((await callLogs.find({ hour }).sort({ n: 1 }).toArray()).map((l) => l._id)).toEqual(['l1', 'l3']);
      expect((await callLogs.updateMany({ hour }, { $inc: { n: 10 } })).modifiedCount).toBe(2);
      expect((await callLogs.find({}).sort({ _id: 1 }).toArray()).map((l) => l.n)).toEqual([11, 2, 13]);
      await client.db('launcher_pg').collection('call_schedules').insertOne({ _id: 's1', due_slot: 2_943_000 } as never);
      await client.db('launcher_pg').collection('call_logs_archive').insertOne({ _id: 'a1', hour } as never);
      await client.close();
      const schemas = await pg.query("SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'launcher_pg'");
      expect(schemas.rowCount).toBe(1);
      const idIndexes = await pg.query<{ schemaname: string; tablename: string }>(
        "SELECT schemaname, tablename FROM pg_indexes WHERE schemaname IN ('launcher_pg', 'older') AND indexdef LIKE '%USING gin (((_jsonb -> ''\\_id''::text)))%' ORDER BY schemaname, tablename",
      );
      const probeTable = idIndexes.rows.find((r) => r.schemaname === 'launcher_pg' && r.tablename.startsWith('probe'))?.tablename;
      expect(probeTable).toBeDefined();
      expect(idIndexes.rows.filter((r) => r.schemaname === 'older')).toEqual([
        { schemaname: 'older', tablename: 'call_logs_0123abcd' },
        { schemaname: 'older', tablename: 'stored' },
      ]);
      // Each listed key on its own collection's tables only.
      const keyIndexes = await pg.query<{ schemaname: string; tablename: string; key: string }>(
        "SELECT schemaname, tablename, substring(indexdef from 'USING gin \\(\\(\\(_jsonb -> ''([a-z_]+)''::text') AS key FROM pg_indexes WHERE schemaname IN ('launcher_pg', 'older') AND indexdef LIKE '%USING gin%' AND indexdef NOT LIKE '%''\\_id''%' ORDER BY schemaname, tablename",
      );
      expect(keyIndexes.rows.map((r) => `${r.schemaname}.${r.tablename.replace(/_[0-9a-f]{8}$/, '')}:${r.key}`).sort()).toEqual([
        'launcher_pg.call_logs:hour',
        'launcher_pg.call_logs_archive:hour',
        'launcher_pg.call_schedules:due_slot',
        'older.call_logs:hour',
      ]);
      const logsTable = keyIndexes.rows.find((r) => r.schemaname === 'launcher_pg' && r.key === 'hour')?.tablename;
      // FerretDB's filter for `_id`, planned with its values as PostgreSQL plans FerretDB's prepared statement
      // while that is cheaper than a generic plan (0040).
      await pg.end();
      const planner = new Client({ connectionString: url.toString() });
      await planner.connect();
      try {
        const plan = await planner.query(`EXPLAIN SELECT _jsonb FROM launcher_pg."${probeTable}" WHERE _jsonb->'_id' @> '"a"'`);
        expect(plan.rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n')).toMatch(/Bitmap Index Scan on call_scheduler_id_\d+/);
        const hourPlan = await planner.query(`EXPLAIN SELECT _jsonb FROM launcher_pg."${logsTable}" WHERE _jsonb->'hour' @> '${hour.getTime()}'`);
        expect(hourPlan.rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n')).toMatch(/Bitmap Index Scan on call_scheduler_hour_\d+/);
      } finally {
        await planner.end();
      }
      await db.stop();
      started.splice(started.indexOf(db), 1);
    } finally {
      await pg.end().catch(() => undefined);
      await dropPostgresDatabase(url.toString());
    }
  });
});
