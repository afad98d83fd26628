import { Client } from 'pg';

export type FerretDbHandler = 'sqlite' | 'postgresql';

export interface FerretDbArgsOptions {
  port: number;
  stateDir: string;
  // Data goes to this PostgreSQL database when set, to SQLite files in stateDir otherwise.
  postgresqlUrl?: string;
}

// One place for FerretDB's command line: the launcher, the reliability suite and the bench all start it.
export function ferretDbArgs(options: FerretDbArgsOptions): string[] {
  const storage = options.postgresqlUrl
    ? ['--handler=postgresql', `--postgresql-url=${options.postgresqlUrl}`]
    : ['--handler=sqlite', `--sqlite-url=file:${options.stateDir}/`];
  return [
    ...storage,
    `--listen-addr=127.0.0.1:${options.port}`,
    // The debug HTTP listener defaults to a fixed port, which two servers would fight over.
    '--debug-addr=-',
    '--telemetry=disable',
    `--state-dir=${options.stateDir}`,
    '--log-level=warn',
  ];
}

// FerretDB turns every row it reads into short-lived garbage (a document decoded from JSON): at Go's default
// GOGC=100 about a fifth of FerretDB's CPU on the logs page's reads went to its collector, and a target four
// times looser cut FerretDB's CPU for those reads by a third or more (0041). The memory limit makes the
// collector work harder before a large sort can run away.
const FERRETDB_GC_DEFAULTS: Readonly<Record<string, string>> = { GOGC: '400', GOMEMLIMIT: '1GiB' };

// The environment FerretDB starts with: `env`, with FERRETDB_GC_DEFAULTS where it leaves them unset or empty.
export function ferretDbEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const merged = { ...env };
  for (const [name, value] of Object.entries(FERRETDB_GC_DEFAULTS)) if (!merged[name]) merged[name] = value;
  return merged;
}

export function ferretDbHandler(postgresqlUrl: string | undefined): FerretDbHandler {
  return postgresqlUrl ? 'postgresql' : 'sqlite';
}

function databaseOf(url: string): { name: string; maintenanceUrl: string } {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
  parsed.pathname = '/postgres';
  return { name, maintenanceUrl: parsed.toString() };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function withClient<T>(url: string, timeoutMs: number, run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

// FerretDB's PostgreSQL handler needs its database to exist; it creates only the schemas inside it.
// `preferLz4`, on the same connection: FerretDB stores each document as jsonb with a type schema beside every
// value, so a schedule or a call log is 2.5-3 KB and PostgreSQL compresses it; most queries and updates scan
// their table and decompress each row. lz4 decompresses faster than the default pglz: a scan of 10,000
// schedules took 11 ms against 17 ms, of 10,000 call logs 11 ms against 19 ms. It applies to the sessions
// FerretDB opens after this, and to values written from then on. Returns whether the database is set to
// lz4 (false without `preferLz4`, or where the server cannot: no lz4 support, not the owner).
export async function ensurePostgresDatabase(url: string, { preferLz4 = false, timeoutMs = 5000 } = {}): Promise<boolean> {
  const { name, maintenanceUrl } = databaseOf(url);
  return withClient(maintenanceUrl, timeoutMs, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!found.rowCount) {
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      } catch (error) {
        // 42P04 duplicate_database: another process created it between our check and our create.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
    if (!preferLz4) return false;
    try {
      await client.query(`ALTER DATABASE ${quoteIdent(name)} SET default_toast_compression = 'lz4'`);
      return true;
    } catch {
      return false;
    }
  });
}

// FerretDB's PostgreSQL handler filters a top-level equality as `_jsonb->'key' @> value`, which its own btree
// indexes on `_jsonb->'key'` cannot serve: every lookup, update and delete by `_id` read its whole table
// (72 ms at 100,000 schedules). A GIN index on the same expression serves `@>` (1 ms). This gives every table
// created from now on with FerretDB's `_jsonb` column such an index on `_id`, and the collections of
// EQUALITY_INDEXES one on each key listed, through an event trigger, and indexes the tables already there.
// The indexes are PostgreSQL's alone: FerretDB never lists or drops them (dropping a collection drops its
// table, and the indexes with it), and PostgreSQL rechecks each row it finds, so a query returns what a scan
// returned. Returns null once the database has the trigger, else why not (an event trigger needs a
// superuser).
export async function indexEqualityLookups(url: string, timeoutMs = 5000): Promise<string | null> {
  try {
    await withClient(url, timeoutMs, async (client) => {
      await client.query(INDEX_SETUP_SQL);
      // One table per statement, each its own transaction: CREATE INDEX holds the table's writes until it
      // commits, and another instance's FerretDB may be writing. A table whose lock does not come within
      // lock_timeout is left for the next start (the function turns the error into a warning).
      const { rows } = await client.query<{ rel: string }>(UNINDEXED_TABLES_SQL);
      await client.query("SET lock_timeout = '5s'");
      for (const { rel } of rows) await client.query('SELECT _ferretdb_call_scheduler.index_table($1::oid)', [rel]);
    });
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

// Equalities a hot path reads a large collection by, beside `_id` (0041): a burst's grouped advance and the
// sweeper read `call_schedules` by due slot, and the logs page reads the logs (hot and archived) an hour at
// a time. Each index costs every write of its collection, so only measured ones are listed.
export const EQUALITY_INDEXES: Readonly<Record<string, readonly string[]>> = { call_schedules: ['due_slot'], call_logs: ['hour'], call_logs_archive: ['hour'] };

// FerretDB names a collection's table after it: lowercased, with an 8-digit hex hash appended. The names and
// keys go into SQL as they are (plain lowercase names: equality-indexes.spec.ts).
const KEYED_TABLES_SQL = Object.entries(EQUALITY_INDEXES)
  .flatMap(([collection, keys]) => keys.map((key) => `, ('^${collection}_[0-9a-f]{8}$', '${key}')`))
  .join('');

// In a schema of its own: FerretDB ignores a schema without its metadata table and refuses database names
// that begin with `_ferretdb_`, so no collection's database can hold or drop it; and with a fixed
// search_path, nothing on FerretDB's own path decides what the trigger runs. An index is recognised by its
// definition, not its name (a restored database renumbers its tables), and named by its key and its table's
// oid, which is unique where FerretDB's table names can be longer than an index name. No error inside
// reaches FerretDB: a table that cannot be indexed keeps its scans, with a warning. Two processes starting
// on one database at once take turns (an advisory lock held until the setup commits) instead of failing on
// each other's catalog rows.
const INDEX_SETUP_LOCK = 7_340_001;
const INDEX_SETUP_SQL = `
SELECT pg_advisory_xact_lock(${INDEX_SETUP_LOCK});
CREATE SCHEMA IF NOT EXISTS _ferretdb_call_scheduler;
CREATE OR REPLACE FUNCTION _ferretdb_call_scheduler.has_key_index(rel oid, key text) RETURNS boolean LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $f$
  SELECT EXISTS (
    SELECT 1 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
    WHERE x.indrelid = rel AND am.amname = 'gin' AND strpos(pg_get_indexdef(x.indexrelid), format('USING gin (((_jsonb -> %L::text))', key)) > 0)
$f$;
CREATE OR REPLACE FUNCTION _ferretdb_call_scheduler.keys_of(rel oid) RETURNS SETOF text LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $f$
  SELECT k.key FROM pg_class c, (VALUES ('', '_id')${KEYED_TABLES_SQL}) AS k(pattern, key)
  WHERE c.oid = rel AND c.relname ~ k.pattern
    AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = rel AND attname = '_jsonb' AND NOT attisdropped)
$f$;
CREATE OR REPLACE FUNCTION _ferretdb_call_scheduler.index_table(rel oid) RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $f$
DECLARE key text;
BEGIN
  FOR key IN SELECT k FROM _ferretdb_call_scheduler.keys_of(rel) AS k LOOP
    BEGIN
      IF NOT _ferretdb_call_scheduler.has_key_index(rel, key) THEN
        EXECUTE format('CREATE INDEX %I ON %s USING gin ((_jsonb->%L)) WITH (fastupdate = off)', 'call_scheduler_' || ltrim(key, '_') || '_' || rel, rel::regclass, key);
      END IF;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'call scheduler: % keeps scanning for %: %', rel::regclass, key, SQLERRM;
    END;
  END LOOP;
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'call scheduler: % keeps scanning for its equalities: %', rel::regclass, SQLERRM;
END $f$;
CREATE OR REPLACE FUNCTION _ferretdb_call_scheduler.index_new_tables() RETURNS event_trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $f$
DECLARE r record;
BEGIN
  FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    PERFORM _ferretdb_call_scheduler.index_table(r.objid);
  END LOOP;
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'call scheduler: a new table keeps scanning for its equalities: %', SQLERRM;
END $f$;
-- The previous version's two functions: an instance of it that starts on this database recreates them (and
-- its own trigger function, which indexes _id only, until a newer instance starts), but one that has just
-- made them may call them after this setup ran.
CREATE OR REPLACE FUNCTION _ferretdb_call_scheduler.has_id_index(rel oid) RETURNS boolean LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $f$ SELECT _ferretdb_call_scheduler.has_key_index(rel, '_id') $f$;
CREATE OR REPLACE FUNCTION _ferretdb_call_scheduler.index_id(rel oid) RETURNS void LANGUAGE sql
SET search_path = pg_catalog, pg_temp AS $f$ SELECT _ferretdb_call_scheduler.index_table(rel) $f$;
-- A trigger made before these functions had their own schema still runs the first version's function (in
-- public, _id only): it is pointed at this one, and that function dropped.
DO $d$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'call_scheduler_index_ids'
                 AND evtfoid = '_ferretdb_call_scheduler.index_new_tables()'::regprocedure) THEN
    DROP EVENT TRIGGER IF EXISTS call_scheduler_index_ids;
    CREATE EVENT TRIGGER call_scheduler_index_ids ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
      EXECUTE FUNCTION _ferretdb_call_scheduler.index_new_tables();
  END IF;
END $d$;
DROP FUNCTION IF EXISTS public.call_scheduler_index_new_tables(), public.call_scheduler_index_id(oid);
`;

// What a FerretDB on PostgreSQL is given before it starts (by the launcher and by the reliability suite):
// its database, lz4 compression and the equality indexes. Returns what could not be done, one note each.
export async function prepareFerretDbDatabase(url: string): Promise<string[]> {
  const notes: string[] = [];
  if (!(await ensurePostgresDatabase(url, { preferLz4: true }))) notes.push('PostgreSQL kept its default compression (no lz4, or not the database owner)');
  const notIndexed = await indexEqualityLookups(url);
  if (notIndexed) notes.push(`FerretDB scans its tables for each equality lookup, _id included: they could not be indexed (${notIndexed})`);
  return notes;
}

const UNINDEXED_TABLES_SQL = `
SELECT c.oid::text AS rel FROM pg_class c
WHERE c.relkind = 'r' AND EXISTS (SELECT 1 FROM _ferretdb_call_scheduler.keys_of(c.oid) AS k WHERE NOT _ferretdb_call_scheduler.has_key_index(c.oid, k))
`;

export async function dropPostgresDatabase(url: string, timeoutMs = 5000): Promise<void> {
  const { name, maintenanceUrl } = databaseOf(url);
  await withClient(maintenanceUrl, timeoutMs, (client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}

// The bound is generous: a refused connection fails at once, and a PostgreSQL busy with a parallel test run
// can take seconds to accept one (seen: 2 s was not enough at a load of 13 on 2 cores).
export async function postgresAnswers(url: string, timeoutMs = 10_000): Promise<boolean> {
  try {
    await withClient(databaseOf(url).maintenanceUrl, timeoutMs, (client) => client.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

// The URL with its password hidden, for logs.
export function redactedPostgresUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

export const LOCAL_POSTGRESQL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

// A new, uniquely named database on `server` for one run (a test run, a bench, a reliability run), or
// undefined when no PostgreSQL answers there. The launcher creates it; the caller drops it when done.
export async function freshPostgresqlDatabase(server: string, prefix: string): Promise<string | undefined> {
  if (!(await postgresAnswers(server))) return undefined;
  const url = new URL(server);
  url.pathname = `/${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  return url.toString();
}

// The PostgreSQL server a run (a test suite, the reliability suite, the bench) gives FerretDB: `configured`
// (the run's FERRETDB_POSTGRESQL_URL), else the local one, when it answers; undefined (SQLite) when none
// answers or `handler` is 'sqlite'. `handler` 'postgresql' makes a missing PostgreSQL an error, not a fallback.
export async function ferretDbPostgresqlServer(handler: string | undefined, configured: string | undefined): Promise<string | undefined> {
  if (handler === 'sqlite') return undefined;
  const server = configured || LOCAL_POSTGRESQL_URL;
  if (await postgresAnswers(server)) return server;
  if (handler === 'postgresql') throw new Error(`FerretDB's PostgreSQL handler was asked for, but no PostgreSQL answers at ${redactedPostgresUrl(server)}`);
  return undefined;
}
