import request from 'supertest';
import { getConnectionToken } from '@nestjs/mongoose';
import { Db, Document, MongoClient, ObjectId, type CommandStartedEvent } from 'mongodb';
import type { Connection } from 'mongoose';
import { Clock } from '../../src/common/clock/clock';
import { DueScheduleSweeper } from '../../src/schedule/dispatch/due-schedule.sweeper';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { FakeTwilioServer } from '../fakes/fake-twilio.server';
import { throughFakeTwilio, twilioTestEnv } from '../utils/fake-twilio-app';
import { EventWork, sweeperIdle, trackEventWork } from '../utils/settle';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig, testDatabaseUri } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { postTwilioCallback } from '../utils/twilio-callbacks';
import { waitFor } from '../utils/wait';

const SID = `AC${'0123456789abcdef'.repeat(2)}`;
const TOKEN = 'fake-twilio-auth-token-0123456789';
const PUBLIC = 'https://calls.example.com';
const FERRETDB = (process.env.TEST_DB_ENGINE ?? '').startsWith('ferretdb');

interface Query {
  command: string;
  collection: string;
  filter: Document;
}

// The filter each command carries: find's filter, count's query, findAndModify's query, every update and
// delete statement's q, and an aggregation's leading $match (countDocuments is an aggregate).
function queriesOf(e: CommandStartedEvent): Query[] {
  const c = e.command;
  const q = (filter: Document | undefined): Query => ({ command: e.commandName, collection: String(c[e.commandName]), filter: filter ?? {} });
  switch (e.commandName) {
    case 'find':
      return [q(c.filter)];
    case 'count':
    case 'findAndModify':
      return [q(c.query)];
    case 'update':
      return (c.updates as Document[]).map((u) => q(u.q));
    case 'delete':
      return (c.deletes as Document[]).map((d) => q(d.q));
    case 'aggregate':
      return [q((c.pipeline as Document[])[0]?.$match)];
    default:
      return [];
  }
}

// Background loops that may run while a path is recorded; none of them is part of the dial or callback path.
const BACKGROUND: Array<{ why: string; is: (q: Query) => boolean }> = [
  // DueScheduleSweeper's polls by due slot (their own test below) and its catch-up read of the whole due list.
  { why: 'due-list read', is: (q) => q.collection === 'call_schedules' && q.command === 'find' && 'next_execution' in q.filter },
  // Agenda polls its job collection through a client of its own; listed in case it ever shares ours.
  { why: 'agenda', is: (q) => q.collection === 'agenda_jobs' },
  // ScheduleReconcileJob every 30 s: stuck claims (findStuck); CallReconcileJob: running one-time schedules (findRunningOneTime).
  { why: 'schedule reconcile', is: (q) => (q.collection === 'occurrence_claims' && 'claimed_at' in q.filter) || (q.collection === 'call_schedules' && 'repeat_config' in q.filter) },
  // CallReconcileJob every 30 s: stale, unknown and unsettled call logs, all selected by last_updated.
  { why: 'call reconcile', is: (q) => q.collection === 'call_logs' && 'last_updated' in q.filter },
  // CallPacer's prune of spent dial slots: at most once a minute per instance, not once per dial.
  { why: 'dial slot prune', is: (q) => q.collection === 'dial_slots' && 'at' in q.filter },
  // The call log archive pass's prune of placed-call records, by age: at most once an hour per instance.
  { why: 'placed call prune', is: (q) => q.collection === 'call_log_placed_calls' && q.command === 'delete' && 'at' in q.filter },
  // WriteGate's prune of gates older than an hour: at most every 10 minutes per collection and instance.
  { why: 'write gate prune', is: (q) => q.collection.endsWith('_write_gates') && q.command === 'delete' && 'at' in q.filter },
  // Notification maintenance: its read of stranded webhook deliveries.
  { why: 'notification maintenance', is: (q) => q.collection === 'notification_deliveries' && 'lease_until' in q.filter },
  // Notification maintenance: its read of the (small) collection of relay entries, whole.
  { why: 'event relay pass', is: (q) => q.collection === 'notification_relay_pending' && q.command === 'find' },
];

// Collections that hold only entries in flight (deleted within milliseconds): their coalesced deletes by
// `_id: {$in}` read a handful of rows, which costs less than a statement (a scan) per id.
const MARKER_COLLECTIONS = new Set(['schedule_outbox_pending', 'notification_relay_pending', 'claim_endings']);
// A burst's grouped write (WriteGate.updateGrouped, decision 0034): scalar equalities the stand-in pushes
// down, and the members' ids and revision, applied to the rows those let through.
const isGroupedWrite = (q: Query) =>
  q.command === 'update' && Array.isArray((q.filter._id as Document | undefined)?.$in) && 'rev' in q.filter && whyNotPushedDown(Object.fromEntries(Object.entries(q.filter).filter(([k]) => k !== '_id' && k !== 'rev'))) === null;
const isMarkerDelete = (q: Query) => q.command === 'delete' && MARKER_COLLECTIONS.has(q.collection) && Object.keys(q.filter).length === 1 && Array.isArray((q.filter._id as Document | undefined)?.$in);

const isScalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v instanceof Date || v instanceof ObjectId;
const isEquality = (v: unknown) => isScalar(v) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && isScalar((v as Document).$eq));

// Values reduced to their types: what the failure messages show.
function shapeOf(value: unknown): unknown {
  if (value instanceof ObjectId) return 'ObjectId';
  if (value instanceof Date) return 'Date';
  if (value === null || typeof value !== 'object') return value === null ? null : typeof value;
  if (Array.isArray(value)) return value.map(shapeOf);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]));
}

// FerretDB's PostgreSQL handler pushes down `_id` and top-level `k: scalar` / `k: {$eq: scalar}`; null,
// arrays, dotted paths, ranges, $in and $or are filtered in Go after reading every row the rest let through.
// An `_id` equality reads one row by itself (explain: filterPushdown true), so other keys beside it are fine.
function whyNotPushedDown(filter: Document): string | null {
  if (Object.keys(filter).length === 0) return 'no filter: reads the whole collection';
  if ('_id' in filter && isEquality(filter._id)) return null;
  const bad = Object.entries(filter).find(([k, v]) => k.startsWith('$') || k.includes('.') || !isEquality(v));
  return bad ? `${bad[0]} is not a scalar equality` : null;
}

async function filterPushdown(db: Db, q: Query): Promise<boolean> {
  const explain = q.command === 'find' ? { find: q.collection, filter: q.filter } : { aggregate: q.collection, pipeline: [{ $match: q.filter }], cursor: {} };
  const res = await db.command({ explain, verbosity: 'queryPlanner' });
  return res.filterPushdown === true;
}

describe('hot-path queries: dial and status callbacks filter by _id or top-level equality only', () => {
  const fake = new FakeTwilioServer(SID, TOKEN);
  const auth = bearer(tokenFor('hot-path-user'));
  const clock = new TestClock();
  let t: TestApp;
  let observer: MongoClient;
  let db: Db;
  let recording: Query[] | null = null;
  let eventWork: EventWork;
  let phoneSeq = 0;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    await fake.start();
    // monitorCommands through the URI: the app's own client (DatabaseModule) then reports every command it sends.
    const uri = new URL(testDatabaseUri());
    uri.searchParams.set('monitorCommands', 'true');
    const config = testConfig({
      MONGODB_URI: uri.toString(),
      ...twilioTestEnv({ sid: SID, token: TOKEN, publicBaseUrl: PUBLIC }),
      // Pacing and concurrency seats on, as in production (tests turn pacing off by default).
      CALLS_PER_SECOND: '50',
      MAX_CONCURRENT_CALLS: '5',
    });
    t = await createTestApp({ config, override: (b) => throughFakeTwilio(config, fake.url)(b.overrideProvider(Clock).useValue(clock)) });
    const client = t.get<Connection>(getConnectionToken()).getClient();
    expect(client.options.monitorCommands).toBe(true);
    client.on('commandStarted', (e: CommandStartedEvent) => recording?.push(...queriesOf(e)));
    eventWork = trackEventWork(t);
    // The test's own reads (waiting, explain) go through a second client, so they are never recorded.
    observer = await MongoClient.connect(testDatabaseUri(uri.pathname.slice(1)));
    db = observer.db();
  });
  afterAll(async () => {
    eventWork?.stop();
    await observer?.close();
    await t?.close();
    await fake.stop();
  });

  async function record(run: () => Promise<void>): Promise<Query[]> {
    recording = [];
    try {
      await run();
      // Work that runs after the response (published events, subscribers) belongs to the path too: the
      // dispatch finishes (it publishes last), then every listener of what was published.
      await sweeperIdle(t);
      await eventWork.settled();
      return recording.filter((q) => !BACKGROUND.some((b) => b.is(q)));
    } finally {
      recording = null;
    }
  }

  async function expectPushedDown(queries: Query[], collections: string[]): Promise<void> {
    expect([...new Set(queries.map((q) => q.collection))]).toEqual(expect.arrayContaining(collections));
    const offending = queries.filter((q) => !isMarkerDelete(q) && !isGroupedWrite(q)).map((q) => ({ ...q, filter: shapeOf(q.filter), why: whyNotPushedDown(q.filter) })).filter((q) => q.why);
    expect(offending).toEqual([]);
    if (!FERRETDB) return;
    for (const q of queries.filter((q) => q.command === 'find' || q.command === 'aggregate')) {
      expect({ ...q, filter: shapeOf(q.filter), filterPushdown: await filterPushdown(db, q) }).toMatchObject({ filterPushdown: true });
    }
  }

  async function scheduleDue(extra: Record<string, unknown> = {}): Promise<string> {
    const phone = `+1415555${String(4000 + phoneSeq++).padStart(4, '0')}`;
    const res = await http().post('/schedule/').set(auth).send({ phone, scheduled_time: new Date(Date.now() + 1500).toISOString(), ...extra }).expect(200);
    const id = res.body.schedule_id as string;
    // The create's records, stored after its answer, belong to the create, not to the dial recorded next.
    await waitFor(async () => (await db.collection('schedule_outbox_pending').countDocuments({ _id: `${id}:created` as never })) === 0, 10_000);
    return id;
  }

  // The dial records its call by an insert, which the log takes in with its next write (0035).
  const dialedLog = (scheduleId: string) =>
    waitFor(async () => {
      const log = await db.collection('call_logs').findOne({ schedule_id: scheduleId });
      const placed = log && (await db.collection('call_log_placed_calls').findOne({ _id: log._id }));
      const claim = await db.collection('occurrence_claims').findOne({ schedule_id: scheduleId });
      return placed && claim?.state === 'dialed' ? { ...log, call_id: placed.call_id as string } : null;
    }, 20_000);

  let oneTime: { scheduleId: string; logId: string; callSid: string };

  it('dialing a due one-time schedule through Twilio', async () => {
    const scheduleId = await scheduleDue();
    const queries = await record(async () => {
      const log = await dialedLog(scheduleId);
      await waitFor(async () => (await db.collection('call_schedules').findOne({ _id: new ObjectId(scheduleId) }))?.status === 'running', 10_000);
      oneTime = { scheduleId, logId: log._id.toHexString(), callSid: log.call_id };
    });
    await expectPushedDown(queries, ['call_schedules', 'occurrence_claims']);
    // Its claim's advance is the dial's one write of the schedule, which holds the call's id from its outcome
    // on; meanwhile the schedule's own reading names the call through its dispatched event.
    expect(queries.filter((q) => q.command === 'update' && q.collection === 'call_schedules')).toHaveLength(1);
    // Nor is its log updated: its call is an insert, which the call's first report writes into it.
    expect(queries.filter((q) => q.command === 'update' && q.collection === 'call_logs')).toEqual([]);
    expect((await db.collection('call_schedules').findOne({ _id: new ObjectId(scheduleId) }))?.call_id ?? null).toBeNull();
    expect((await http().get(`/schedule/${scheduleId}`).set(auth).expect(200)).body.schedule).toMatchObject({ status: 'running', call_id: oneTime.callSid });
  });

  // A poll's read that began before this instance advanced the schedule can come back after it, still
  // saying "due": the sweeper goes by the copy it remembers from its own write, and neither dispatches the
  // schedule again nor reads it to find it running (a scan of call_schedules on FerretDB).
  it("a poll's read from before the dial's advance sets no second dispatch", async () => {
    const sweeper = t.get<DueScheduleSweeper>(DueScheduleSweeper);
    const claim = await db.collection('occurrence_claims').findOne({ schedule_id: oneTime.scheduleId });
    const stored = await db.collection('call_schedules').findOne({ _id: new ObjectId(oneTime.scheduleId) });
    // The schedule as the read found it: due, one revision before the advance.
    const before = { ...stored, status: 'scheduled', next_execution: claim!.occurrence_at, rev: (stored!.rev as number) - 1 };
    const queries = await record(async () => {
      const due = t.get<ScheduleRepository>(ScheduleRepository)['rememberDue']([before as never]);
      expect(due).toEqual([{ id: oneTime.scheduleId, next_execution: claim!.occurrence_at }]);
      sweeper['armAll'](due);
      expect(sweeper.backlog()).toBe(0);
    });
    expect(queries.filter((q) => q.collection === 'call_schedules' || q.collection === 'occurrence_claims')).toEqual([]);
  });

  it('applying its status callbacks (ringing, in-progress, completed)', async () => {
    const queries = await record(async () => {
      const steps: Array<[string, Record<string, string>]> = [['ringing', {}], ['in-progress', {}], ['completed', { CallDuration: '7' }]];
      for (const [i, [CallStatus, extra]] of steps.entries()) {
        const res = await postTwilioCallback(t.app.getHttpServer(), PUBLIC, TOKEN, `/webhook/call-status?call_log_id=${oneTime.logId}`, {
          AccountSid: SID,
          CallSid: oneTime.callSid,
          CallStatus,
          SequenceNumber: String(i + 1),
          ...extra,
        });
        expect(res.status).toBe(200);
      }
      await waitFor(async () => (await db.collection('call_schedules').findOne({ _id: new ObjectId(oneTime.scheduleId) }))?.status === 'completed', 10_000);
    });
    expect(await db.collection('call_logs').findOne({ _id: new ObjectId(oneTime.logId) })).toMatchObject({ status: 'completed', duration: 7, call_id: oneTime.callSid, provider: 'twilio' });
    expect(await db.collection('call_schedules').findOne({ _id: new ObjectId(oneTime.scheduleId) })).toMatchObject({ status: 'completed', call_id: oneTime.callSid, duration: 7 });
    await expectPushedDown(queries, ['call_logs', 'call_schedules']);
    // The final outcome is the call's one write of its schedule: its fields and its end together.
    expect(queries.filter((q) => q.command === 'update' && q.collection === 'call_schedules')).toHaveLength(1);
    // The instance that dialed remembers the log and the call it recorded for it: its callbacks write the
    // log, which takes the call in with the first of them, without reading either first (each write's gate
    // still proves the copy current).
    expect(queries.filter((q) => q.command === 'find' && q.collection === 'call_logs')).toEqual([]);
    expect(queries.filter((q) => q.collection === 'call_log_placed_calls')).toEqual([]);
  });

  // A recurring schedule's dial also counts its claims in flight (SCHEDULER_MAX_INSTANCES). Its first
  // occurrence is on a whole minute: the clock is moved to just before it, and the sweeper dials it.
  it('dialing a due recurring schedule', async () => {
    const scheduleId = await scheduleDue({ repeat_config: { enabled: true, frequency: 'hourly', max_occurrences: 3 } });
    const stored = await db.collection('call_schedules').findOne({ _id: new ObjectId(scheduleId) });
    try {
      const queries = await record(async () => {
        clock.set(new Date(stored!.next_execution.getTime() - 300));
        await dialedLog(scheduleId);
        await waitFor(async () => (await db.collection('call_schedules').findOne({ _id: new ObjectId(scheduleId) }))?.occurrence_count === 1, 10_000);
      });
      expect(queries.filter((q) => q.collection === 'occurrence_claims' && q.command === 'aggregate')).not.toHaveLength(0);
      expect(queries.filter((q) => q.command === 'update' && q.collection === 'call_schedules')).toHaveLength(1);
      await expectPushedDown(queries, ['call_schedules', 'occurrence_claims']);
    } finally {
      clock.set(new Date());
    }
  });

  // Each poll's read of what is due: the slot's equality (with the status's) is pushed down, so FerretDB reads
  // only that slot's rows, and the range on next_execution applies to those alone.
  it("the sweeper's poll reads the due list by slot", async () => {
    recording = [];
    let polls: Query[];
    try {
      polls = await waitFor(async () => {
        const found = recording!.filter((q) => q.collection === 'call_schedules' && q.command === 'find' && 'due_slot' in q.filter);
        return found.length > 0 ? found : null;
      }, 20_000, 50);
    } finally {
      recording = null;
    }
    const poll = polls[0];
    expect(shapeOf(poll.filter)).toMatchObject({ due_slot: 'number', status: 'string' });
    if (FERRETDB) expect(await filterPushdown(db, poll)).toBe(true);
  });
});
