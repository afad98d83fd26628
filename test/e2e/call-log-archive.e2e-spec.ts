import { getConnectionToken } from '@nestjs/mongoose';
import { randomBytes } from 'node:crypto';
import { Connection, Types } from 'mongoose';
import request from 'supertest';
import { CallLogArchiveJob } from '../../src/tracking/call-log-archive.job';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { CallLog, CallTimelineEntry } from '../../src/tracking/call-log.types';
import { CallStatsFoldJob } from '../../src/tracking/call-stats-fold.job';
import { CallStatus } from '../../src/tracking/call-status';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { postTwilioCallback, twilioCallbackParams } from '../utils/twilio-callbacks';

const PUBLIC_BASE = 'https://scheduler.example.com';
const SIGNING_TOKEN = 'archive-test-signing-token-0123456789';
const HOUR = 3_600_000;

// Settled call logs (final, their schedule's outcome recorded) that nothing updated for
// CALL_LOG_ARCHIVE_AFTER_HOURS move from call_logs to call_logs_archive. Every reader finds them as before, and
// a write that comes later, or races the move, lands on the archived copy.
describe('call log archive (e2e)', () => {
  let t: TestApp;
  let db: Connection;
  let logs: CallLogRepository;
  const http = () => request(t.app.getHttpServer());
  const archive = async () => (await t.get<CallLogArchiveJob>(CallLogArchiveJob).handle()).outcome;
  const idsIn = async (collection: string, tenant: string) => (await db.collection(collection).find({ tenant_id: tenant }).toArray()).map((d) => String(d._id)).sort();
  const entry = (status: CallStatus, source: string, sequence: number, at: Date): CallTimelineEntry => ({ status, ts: at, received_at: at, sequence_number: sequence, source, provider_status: null });

  // A log dialed at `at`: `final` reported, and its schedule's outcome recorded when `recorded`, all at `at`.
  async function seed(tenant: string, at: Date, opts: { final?: CallStatus | null; recorded?: boolean; schedule?: boolean; phone?: string } = {}): Promise<CallLog & { sid: string }> {
    const sid = `CA${randomBytes(16).toString('hex')}`;
    const log = await logs.createForAttempt(
      logs.newId(),
      {
        tenant_id: tenant,
        created_by: 'archivist',
        user_profile_id: null,
        agent_instance_id: null,
        schedule_id: opts.schedule === false ? null : new Types.ObjectId().toHexString(),
        occurrence_at: at,
        status: 'queued',
        call_type: 'outbound',
        phone: opts.phone ?? '+14155552671',
        timestamp: at,
        notes: null,
        metadata: {},
        attempt_number: 1,
      },
      at,
    );
    await logs.recordPlacedCall(log.id, 'simulated', sid, at);
    const final = opts.final === undefined ? 'completed' : opts.final;
    if (final === 'unknown') await logs.markAttemptEnded(log.id, 'unknown', {}, at);
    else if (final) await logs.applyStatusEvent(log.id, entry(final, 'seed', 9, at), { end_time: at, duration: final === 'completed' ? 30 : null }, at);
    if (opts.recorded ?? true) await logs.markOutcomeRecorded(log.id, at);
    return { ...((await logs.findById(log.id)) as CallLog), sid };
  }

  beforeAll(async () => {
    t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false', PUBLIC_BASE_URL: PUBLIC_BASE, SIMULATOR_SIGNING_TOKEN: SIGNING_TOKEN } });
    db = t.get<Connection>(getConnectionToken());
    logs = t.get(CallLogRepository);
  });
  afterAll(() => t.close());

  it('moves only settled logs past the cutoff, and the tracking API, the stats and every lookup read them as before', async () => {
    const tenant = 'archive-readers';
    const user = bearer(tokenFor('archivist', { tenantId: tenant }));
    const twoDaysAgo = new Date(Date.now() - 48 * HOUR);
    const settled = await seed(tenant, twoDaysAgo);
    const settledAlone = await seed(tenant, new Date(twoDaysAgo.getTime() + 60_000), { final: 'busy', schedule: false, phone: '+14155550199' });
    const settledUnknown = await seed(tenant, new Date(twoDaysAgo.getTime() + 90_000), { final: 'unknown' });
    const outcomeNotRecorded = await seed(tenant, new Date(twoDaysAgo.getTime() + 120_000), { recorded: false });
    const inFlight = await seed(tenant, new Date(twoDaysAgo.getTime() + 180_000), { final: null, recorded: false });
    const recent = await seed(tenant, new Date(Date.now() - HOUR));
    await t.get<CallStatsFoldJob>(CallStatsFoldJob).catchUp();

    const reads = async () => ({
      page: (await http().get('/schedule/tracking/logs?limit=50').set(user).expect(200)).body,
      offsetPage: (await http().get('/schedule/tracking/logs?limit=2&offset=1').set(user).expect(200)).body,
      offsetPages: await Promise.all([0, 1, 2, 3, 4, 5].map(async (offset) => (await http().get(`/schedule/tracking/logs?limit=2&offset=${offset}&phone=%2B14155552671`).set(user).expect(200)).body)),
      byPhone: (await http().get('/schedule/tracking/logs?limit=50&phone=%2B14155552671').set(user).expect(200)).body,
      stats: (await http().get('/schedule/tracking/stats?group_by=day').set(user).expect(200)).body,
      statsByPhone: (await http().get('/schedule/tracking/stats?phone=%2B14155552671').set(user).expect(200)).body,
      byId: await logs.findById(settled.id),
      byCallId: await logs.findByCallId(settledAlone.sid),
      ofSchedule: await logs.findForSchedule(settled.schedule_id as string),
      latest: (await logs.latestForSchedules([settled.schedule_id as string])).get(settled.schedule_id as string),
    });
    const before = await reads();
    expect(before.page.logs).toHaveLength(6);
    expect(before.offsetPage.logs).toHaveLength(2);
    expect(before.stats.total_calls).toBe(6);

    expect(await archive()).toBe('archived=3');
    expect(await idsIn('call_logs_archive', tenant)).toEqual([settled.id, settledAlone.id, settledUnknown.id].sort());
    expect(await idsIn('call_logs', tenant)).toEqual([outcomeNotRecorded.id, inFlight.id, recent.id].sort());
    expect(await reads()).toEqual(before);
    // Nothing left to move.
    expect(await archive()).toBe('archived=0');
  });

  it('logs archived under a shorter CALL_LOG_ARCHIVE_AFTER_HOURS are still listed after it is raised', async () => {
    const tenant = 'archive-raised-cutoff';
    const user = bearer(tokenFor('archivist', { tenantId: tenant }));
    const log = await seed(tenant, new Date(Date.now() - 30 * HOUR));
    await t.get<CallStatsFoldJob>(CallStatsFoldJob).catchUp();
    expect(await archive()).toMatch(/^archived=[1-9]/);
    // Restarted with 72 hours, on the same database.
    const raised = await createTestApp({ config: { ...t.config, callLogArchiveAfterHours: 72 } });
    try {
      const page = (await request(raised.app.getHttpServer()).get('/schedule/tracking/logs?limit=50').set(user).expect(200)).body;
      expect(page.logs.map((l: { id: string }) => l.id)).toEqual([log.id]);
    } finally {
      await raised.close();
    }
  });

  // docs/decisions/0029-nulls-not-stored.md: neither collection stores a top-level null; readers see null.
  it('stores a log without its null fields, hot and archived, and the API reads them as null', async () => {
    const tenant = 'archive-nulls-absent';
    const user = bearer(tokenFor('archivist', { tenantId: tenant }));
    const log = await seed(tenant, new Date(Date.now() - 30 * HOUR));
    const nullFields = (doc: Record<string, unknown> | null) => Object.entries(doc ?? {}).filter(([, v]) => v === null).map(([k]) => k);
    const hot = await db.collection('call_logs').findOne({ _id: new Types.ObjectId(log.id) });
    expect(hot).not.toBeNull();
    expect(nullFields(hot)).toEqual([]);
    expect(await archive()).toMatch(/^archived=[1-9]/);
    const archived = await db.collection('call_logs_archive').findOne({ _id: new Types.ObjectId(log.id) });
    expect(archived).not.toBeNull();
    expect(nullFields(archived)).toEqual([]);
    const page = (await request(t.app.getHttpServer()).get('/schedule/tracking/logs?limit=50').set(user).expect(200)).body;
    expect(page.logs).toHaveLength(1);
    expect(page.logs[0]).toMatchObject({ id: log.id, notes: null, error_code: null, error_message: null, answered_by: null });
  });

  it('a late status callback of an archived call lands on the archived log', async () => {
    const tenant = 'archive-late-callback';
    const log = await seed(tenant, new Date(Date.now() - 30 * HOUR));
    expect(await archive()).toMatch(/^archived=[1-9]/);
    expect(await idsIn('call_logs', tenant)).toEqual([]);

    const path = `/webhook/call-status?call_log_id=${log.id}`;
    const res = await postTwilioCallback(t.app.getHttpServer(), PUBLIC_BASE, SIGNING_TOKEN, path, twilioCallbackParams(log.sid, 'in-progress', 3));
    expect(res.status).toBe(200);
    const archived = await db.collection('call_logs_archive').findOne({ _id: new Types.ObjectId(log.id) });
    expect(archived?.status).toBe('completed');
    expect(archived?.timeline.map((e: CallTimelineEntry) => [e.status, e.sequence_number])).toContainEqual(['in_progress', 3]);
    expect(await idsIn('call_logs', tenant)).toEqual([]);
  });

  // A pass that died after winning a log's gate with its freeze: nothing can write the log until the
  // freeze is finished, and the next pass finishes it.
  it('a freeze left by a pass that died is finished by the next pass', async () => {
    const tenant = 'archive-dead-pass';
    const log = await seed(tenant, new Date(Date.now() - 30 * HOUR));
    const hot = await db.collection('call_logs').findOne({ _id: new Types.ObjectId(log.id) });
    await db.collection('call_log_write_gates').insertOne({ _id: `${log.id}:${hot?.rev}`, set: { archived_at: new Date() }, at: new Date() } as never);

    expect(await archive()).toMatch(/^archived=[1-9]/);
    expect(await idsIn('call_logs', tenant)).toEqual([]);
    expect(await db.collection('call_logs_archive').findOne({ _id: new Types.ObjectId(log.id) })).toMatchObject({ rev: hot?.rev, status: 'completed' });
  });

  it('a log whose gate a writer holds is left for the next pass', async () => {
    const tenant = 'archive-writer-holds';
    const log = await seed(tenant, new Date(Date.now() - 30 * HOUR));
    const hot = await db.collection('call_logs').findOne({ _id: new Types.ObjectId(log.id) });
    // A writer won the revision and has not written it yet.
    await db.collection('call_log_write_gates').insertOne({ _id: `${log.id}:${hot?.rev}`, set: { notes: 'in flight' }, at: new Date() } as never);

    await archive();
    expect(await idsIn('call_logs', tenant)).toEqual([log.id]);
    expect(await db.collection('call_logs_archive').countDocuments({ _id: new Types.ObjectId(log.id) })).toBe(0);
  });

  // A waiter took a dead pass's freeze over: the hot log reads frozen and has no copy yet.
  it('a write of a frozen log lands on its archived copy, which it makes if need be', async () => {
    const tenant = 'archive-frozen';
    const log = await seed(tenant, new Date(Date.now() - 30 * HOUR));
    const hot = await db.collection('call_logs').findOne({ _id: new Types.ObjectId(log.id) });
    const freeze = { archived_at: new Date() };
    await db.collection('call_log_write_gates').insertOne({ _id: `${log.id}:${hot?.rev}`, set: freeze, at: new Date() } as never);
    await db.collection('call_logs').updateOne({ _id: new Types.ObjectId(log.id) }, { $set: { ...freeze, rev: (hot?.rev ?? 0) + 1 } });

    const at = new Date(Date.now() - 29 * HOUR);
    await logs.applyStatusEvent(log.id, entry('in_progress', 'late', 4, at), {}, at);
    const copy = await db.collection('call_logs_archive').findOne({ _id: new Types.ObjectId(log.id) });
    expect(copy?.timeline.map((e: CallTimelineEntry) => e.source)).toContain('late');
    expect((await db.collection('call_logs').findOne({ _id: new Types.ObjectId(log.id) }))?.timeline.map((e: CallTimelineEntry) => e.source)).not.toContain('late');
    expect((await logs.findById(log.id))?.timeline.map((e) => e.source)).toContain('late');

    expect(await archive()).toMatch(/^archived=[1-9]/);
    expect(await idsIn('call_logs', tenant)).toEqual([]);
    expect((await db.collection('call_logs_archive').findOne({ _id: new Types.ObjectId(log.id) }))?.timeline.map((e: CallTimelineEntry) => e.source)).toContain('late');
  });

  // A pass that died after its copy, its freeze gate pruned an hour later, and a write since.
  it('a copy older than its hot log is replaced by the next pass, and readers take the newer meanwhile', async () => {
    const tenant = 'archive-stale-copy';
    const log = await seed(tenant, new Date(Date.now() - 30 * HOUR));
    const hot = await db.collection('call_logs').findOne({ _id: new Types.ObjectId(log.id) });
    await db.collection('call_logs_archive').insertOne({ ...hot, archived_at: new Date(Date.now() - 2 * HOUR) } as never);
    const at = new Date(Date.now() - 29 * HOUR);
    await logs.applyStatusEvent(log.id, entry('in_progress', 'late', 4, at), {}, at);

    expect((await logs.findForSchedule(log.schedule_id as string))[0].timeline.map((e) => e.source)).toContain('late');
    expect(await archive()).toMatch(/^archived=[1-9]/);
    expect(await idsIn('call_logs', tenant)).toEqual([]);
    const copy = await db.collection('call_logs_archive').findOne({ _id: new Types.ObjectId(log.id) });
    expect(copy?.rev).toBe((hot?.rev ?? 0) + 1);
    expect(copy?.timeline.map((e: CallTimelineEntry) => e.source)).toContain('late');
  });

  it('an archived unknown log takes a late final status but never goes back in flight', async () => {
    const tenant = 'archive-unknown-late';
    const log = await seed(tenant, new Date(Date.now() - 30 * HOUR), { final: 'unknown' });
    expect(await archive()).toMatch(/^archived=[1-9]/);
    const at = new Date();
    expect(await logs.applyStatusEvent(log.id, entry('ringing', 'late', 2, at), {}, at)).toBe(false);
    expect(await logs.findById(log.id)).toMatchObject({ status: 'unknown' });
    expect(await logs.applyStatusEvent(log.id, entry('completed', 'late', 5, at), { duration: 12 }, at)).toBe(true);
    const archived = await db.collection('call_logs_archive').findOne({ _id: new Types.ObjectId(log.id) });
    expect(archived).toMatchObject({ status: 'completed', duration: 12 });
    expect(archived?.timeline.map((e: CallTimelineEntry) => e.status)).toEqual(expect.arrayContaining(['ringing', 'completed']));
    expect(await idsIn('call_logs', tenant)).toEqual([]);
  });

  // Concurrent late writes and moves of the same logs: each write lands exactly once, wherever the log is.
  it.each([1, 2, 3])('writes racing the move are never lost (round %i)', async (round) => {
    const tenant = `archive-race-${round}`;
    const seeded = await Promise.all(Array.from({ length: 24 }, (_, i) => seed(tenant, new Date(Date.now() - 30 * HOUR + i * 1000))));
    const at = new Date(Date.now() - 26 * HOUR);
    await Promise.all([
      archive(),
      ...seeded.flatMap((log, i) => [
        logs.applyStatusEvent(log.id, entry('in_progress', 'race-a', i, at), {}, at),
        logs.applyStatusEvent(log.id, entry('ringing', 'race-b', i, at), {}, at),
      ]),
      archive(),
    ]);
    await archive();
    expect(await idsIn('call_logs', tenant)).toEqual([]);
    const archived = await db.collection('call_logs_archive').find({ tenant_id: tenant }).toArray();
    expect(archived).toHaveLength(seeded.length);
    for (const doc of archived) {
      const sources = doc.timeline.map((e: CallTimelineEntry) => e.source);
      expect({ id: String(doc._id), a: sources.filter((s: string) => s === 'race-a').length, b: sources.filter((s: string) => s === 'race-b').length }).toEqual({ id: String(doc._id), a: 1, b: 1 });
    }
  });
});
