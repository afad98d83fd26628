import { getModelToken } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { Principal } from '../../src/auth/principal';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { CallStatsTally } from '../../src/tracking/call-stats';
import { CallStatsFoldJob } from '../../src/tracking/call-stats-fold.job';
import { CallStatsRepository } from '../../src/tracking/call-stats.repository';
import { CallStatus } from '../../src/tracking/call-status';
import { CallLogDoc } from '../../src/tracking/schemas/call-log.schema';
import { CallStatChangeDoc, CallStatsDayDoc, CallStatsStateDoc } from '../../src/tracking/schemas/call-stats.schema';
import { TrackingService } from '../../src/tracking/tracking.service';
import { createMediumApp, MediumApp, principalFor } from '../utils/medium-app';

const HOUR_MS = 3_600_000;
// Past every change stored so far: a fold with this cutoff takes them all.
const everything = () => new Date(Date.now() + 10 * 60_000);

// The stats read from the hourly sums (the call-stat changes folded or not) must be the numbers the call
// logs themselves give, whatever the writers and folds do at the same time.
describe('hourly call stats (service level, real database)', () => {
  let t: MediumApp;
  let alice: Principal;
  let logs: CallLogRepository;
  let model: Model<CallLogDoc>;
  const base = new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 5 * HOUR_MS);

  beforeAll(async () => {
    t = await createMediumApp();
    alice = principalFor(t, 'stats-alice');
    logs = t.get<CallLogRepository>(CallLogRepository);
    model = t.get<Model<CallLogDoc>>(getModelToken(CallLogDoc.name));
    // The scheduler is off, so the start-up pass that lets reads use the hourly sums is the test's to run.
    await t.get<CallStatsFoldJob>(CallStatsFoldJob).catchUp();
  });
  afterAll(() => t.close());

  const newLog = (i: number, owner: Principal = alice) =>
    logs.createForAttempt(
      logs.newId(),
      {
        tenant_id: owner.tenantId,
        created_by: owner.sub,
        user_profile_id: null,
        agent_instance_id: null,
        schedule_id: null,
        occurrence_at: null,
        status: 'queued',
        call_type: 'outbound',
        phone: '+14155550100',
        // Spread over three hours, minutes apart.
        timestamp: new Date(base.getTime() + i * 17 * 60_000),
        notes: null,
        metadata: {},
        attempt_number: 1,
      },
      new Date(),
    );

  // The test's own count, from the logs as stored.
  async function fromLogs(byDay = false, owner: Principal = alice) {
    const rows = await model.find({ tenant_id: owner.tenantId }).lean();
    const overall = new CallStatsTally();
    const days = new Map<string, CallStatsTally>();
    for (const r of rows) {
      const duration = typeof r.duration === 'number' ? r.duration : null;
      overall.add(r.status as CallStatus, duration);
      const day = r.timestamp.toISOString().slice(0, 10);
      if (!days.has(day)) days.set(day, new CallStatsTally());
      days.get(day)!.add(r.status as CallStatus, duration);
    }
    const result = { ...overall.result(), timezone: 'UTC' };
    if (!byDay) return result;
    const by_day = [...days.keys()].sort().map((date) => {
      const { by_status: _omit, ...rest } = days.get(date)!.result();
      return { date, ...rest };
    });
    return { ...result, by_day };
  }

  const stats = (group_by?: 'day') => t.get<TrackingService>(TrackingService).stats(alice, { group_by });
  const unfolded = () => t.get<Model<CallStatChangeDoc>>(getModelToken(CallStatChangeDoc.name)).countDocuments({ tenant_id: alice.tenantId });

  it('add up under 20 concurrent writers and 3 concurrent folds, before and after folding', async () => {
    const created = await Promise.all(Array.from({ length: 10 }, (_, i) => newLog(i)));
    const outcomes: Array<[CallStatus, number | null]> = [
      ['ringing', null],
      ['in_progress', null],
      ['completed', 42],
      ['busy', 0],
      ['no_answer', null],
      ['completed', 7],
      ['failed', null],
    ];
    const at = new Date();
    // 20 writers on 10 logs (two callbacks per log, in either order), with folds in between.
    const writers = Array.from({ length: 20 }, (_, i) => {
      const [status, duration] = outcomes[i % outcomes.length];
      const log = created[i % created.length];
      return logs.applyStatusEvent(log.id, { status, ts: at, received_at: at, sequence_number: i, source: 'provider_callback', provider_status: status }, { duration }, at);
    });
    const folds = Array.from({ length: 3 }, () => t.get<CallStatsRepository>(CallStatsRepository).fold(everything()));
    await Promise.all([...writers, ...folds]);

    expect(await stats()).toEqual(await fromLogs());
    expect(await stats('day')).toEqual(await fromLogs(true));
    expect((await stats()).total_calls).toBe(10);

    await t.get<CallStatsRepository>(CallStatsRepository).fold(everything());
    expect(await unfolded()).toBe(0);
    // Read from the hourly sums alone now: three hours, ten calls.
    const hours = await t.get<CallStatsRepository>(CallStatsRepository).hoursWithin(alice.tenantId, undefined, undefined);
    expect(hours.length).toBe(3);
    expect(hours.reduce((n, h) => n + Object.values(h.sums.counts).reduce((a, b) => a + b, 0), 0)).toBe(10);
    expect(await stats()).toEqual(await fromLogs());
    expect(await stats('day')).toEqual(await fromLogs(true));
  });

  // A read keeps a tenant's days under their version and reads them again only once a fold changed it.
  // Beside writers and folds, every read still finds the 12 calls (status moves net to zero there: the
  // exact interleavings are the next test's), and the statuses agree with the logs afterwards.
  it('reads beside writers and folds count every call once, on the days they kept or read again', async () => {
    const bob = principalFor(t, 'stats-bob');
    const repo = t.get<CallStatsRepository>(CallStatsRepository);
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => newLog(i, bob)));
    await repo.fold(everything());
    const total = async () => (await t.get<TrackingService>(TrackingService).stats(bob, {})).total_calls;
    expect(await total()).toBe(12);

    const outcomes: CallStatus[] = ['ringing', 'in_progress', 'completed', 'busy', 'no_answer', 'failed'];
    const at = new Date();
    const writers = Array.from({ length: 24 }, (_, i) =>
      logs.applyStatusEvent(created[i % 12].id, { status: outcomes[i % outcomes.length], ts: at, received_at: at, sequence_number: i, source: 'provider_callback', provider_status: outcomes[i % outcomes.length] }, { duration: null }, at),
    );
    const folds = Array.from({ length: 4 }, () => repo.fold(everything()));
    const reads = Array.from({ length: 30 }, () => total());
    const [totals] = await Promise.all([Promise.all(reads), Promise.all(writers), Promise.all(folds)]);
    expect(new Set(totals)).toEqual(new Set([12]));

    await repo.fold(everything());
    const byStatus = (await t.get<TrackingService>(TrackingService).stats(bob, {})).by_status as Record<string, number>;
    const stored = await model.find({ tenant_id: bob.tenantId }).lean();
    const expected: Record<string, number> = {};
    for (const r of stored) expected[r.status] = (expected[r.status] ?? 0) + 1;
    expect(Object.fromEntries(Object.entries(byStatus).filter(([, n]) => n > 0))).toEqual(expected);
  });

  // The two moments the kept days' correctness rests on, held open: a fold between its day's write and its
  // version change, then between that and the delete of what it folded. A read at each must count every
  // change exactly once, from days it kept before the fold or read again.
  it("a read in the middle of a fold counts each change once, on kept days or on days read again", async () => {
    const carol = principalFor(t, 'stats-carol');
    const repo = t.get<CallStatsRepository>(CallStatsRepository);
    const read = () => t.get<TrackingService>(TrackingService).stats(carol, {});
    const at = new Date();
    const complete = (id: string, duration: number) =>
      logs.applyStatusEvent(id, { status: 'completed', ts: at, received_at: at, sequence_number: 9, source: 'provider_callback', provider_status: 'completed' }, { duration }, at);
    const first = await Promise.all([0, 1, 2].map((i) => newLog(i, carol)));
    await complete(first[0].id, 10);
    await repo.fold(everything());
    // Kept under the days' version.
    expect(await read()).toEqual(await fromLogs(false, carol));

    const more = await Promise.all([3, 4].map((i) => newLog(i, carol)));
    await complete(more[0].id, 30);
    const truth = await fromLogs(false, carol);
    expect(truth).toMatchObject({ total_calls: 5, completed_calls: 2, total_duration: 40 });

    const held = () => {
      let release!: () => void;
      let reached!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const arrived = new Promise<void>((resolve) => (reached = resolve));
      return { gate, arrived, release, reached };
    };
    const version = held();
    const removal = held();
    const state = t.get<Model<CallStatsStateDoc>>(getModelToken(CallStatsStateDoc.name));
    const changes = t.get<Model<CallStatChangeDoc>>(getModelToken(CallStatChangeDoc.name));
    const updateOne = state.updateOne.bind(state);
    const deleteMany = changes.deleteMany.bind(changes);
    const versionStop = jest.spyOn(state, 'updateOne').mockImplementationOnce(((...args: Parameters<typeof updateOne>) => {
      version.reached();
      return version.gate.then(() => updateOne(...args));
    }) as never);
    const deleteStop = jest.spyOn(changes, 'deleteMany').mockImplementationOnce(((...args: Parameters<typeof deleteMany>) => {
      removal.reached();
      return removal.gate.then(() => deleteMany(...args));
    }) as never);
    try {
      const fold = repo.fold(everything());
      await version.arrived;
      // The day holds the new changes, the version is the old one: kept days, and the changes counted.
      expect(await read()).toEqual(truth);
      version.release();
      await removal.arrived;
      // A new version, the changes not deleted yet: the days read again, the changes skipped by them.
      expect(await read()).toEqual(truth);
      removal.release();
      await fold;
      expect(await read()).toEqual(truth);
    } finally {
      version.release();
      removal.release();
      versionStop.mockRestore();
      deleteStop.mockRestore();
    }
  });

  it('reads a day folded before its sums were stored as text, and the next fold rewrites it as text', async () => {
    const legacy = principalFor(t, 'stats-legacy');
    const days = t.get<Model<CallStatsDayDoc>>(getModelToken(CallStatsDayDoc.name));
    const hour = new Date(base.getTime() + HOUR_MS);
    const day = new Date(`${hour.toISOString().slice(0, 10)}T00:00:00.000Z`);
    const hh = hour.toISOString().slice(11, 13);
    // As a version before 2026-12-05 folded it: the hourly sums as a nested document.
    await days.collection.insertOne({
      _id: `${legacy.tenantId}|${hour.toISOString().slice(0, 10)}`,
      tenant_id: legacy.tenantId,
      day,
      hours: { [hh]: { counts: { completed: 2 }, total_duration: 60, completed_duration: 60, completed_with_duration: 2 } },
      folded_until: new Date(Date.now() - 60_000),
      rev: 0,
    } as never);
    const legacyStats = () => t.get<TrackingService>(TrackingService).stats(legacy, {});
    expect(await legacyStats()).toMatchObject({ total_calls: 2, completed_calls: 2, average_duration: 30, total_duration: 60 });

    const id = logs.newId();
    await logs.createForAttempt(id, { tenant_id: legacy.tenantId, created_by: legacy.sub, user_profile_id: null, agent_instance_id: null, schedule_id: null, occurrence_at: null, status: 'queued', call_type: 'outbound', phone: '+14155550102', timestamp: hour, notes: null, metadata: {}, attempt_number: 1 }, new Date());
    await logs.applyStatusEvent(id, { status: 'completed', ts: hour, received_at: hour, sequence_number: 1, source: 'provider_callback', provider_status: 'completed' }, { duration: 90 }, hour);
    await t.get<CallStatsRepository>(CallStatsRepository).fold(everything());
    const stored = await days.findById(`${legacy.tenantId}|${hour.toISOString().slice(0, 10)}`).lean();
    expect(stored?.hours).toEqual({});
    expect(JSON.parse(stored?.hours_json ?? 'null')).toEqual({ [hh]: { counts: { completed: 3 }, total_duration: 150, completed_duration: 150, completed_with_duration: 3 } });
    expect(await legacyStats()).toMatchObject({ total_calls: 3, completed_calls: 3, average_duration: 50, total_duration: 150 });

    // An instance of the older version folds meanwhile (a rolling upgrade): it adds its changes to the nested
    // form, which the text's fold emptied. Both count, once each, and the next fold puts them in the text.
    // Through the write gate, as that version writes: the gate of the revision it moves from, then the day.
    const rev = (stored as { rev?: number }).rev ?? 0;
    await days.db.collection('call_stats_daily_write_gates').insertOne({ _id: `${stored!._id}:${rev}`, set: null, at: new Date() } as never);
    await days.collection.updateOne({ _id: stored!._id } as never, { $set: { hours: { [hh]: { counts: { busy: 1 }, total_duration: 0, completed_duration: 0, completed_with_duration: 0 } }, rev: rev + 1 } });
    // That version does not change the days' version: a process reads the day again once the days it kept
    // are a minute old.
    expect(await legacyStats()).toMatchObject({ total_calls: 3 });
    t.clock.advance(61_000);
    expect(await legacyStats()).toMatchObject({ total_calls: 4, completed_calls: 3, total_duration: 150 });
    const next = logs.newId();
    await logs.createForAttempt(next, { tenant_id: legacy.tenantId, created_by: legacy.sub, user_profile_id: null, agent_instance_id: null, schedule_id: null, occurrence_at: null, status: 'queued', call_type: 'outbound', phone: '+14155550103', timestamp: hour, notes: null, metadata: {}, attempt_number: 1 }, new Date());
    await t.get<CallStatsRepository>(CallStatsRepository).fold(everything());
    const merged = await days.findById(stored!._id).lean();
    expect(merged?.hours).toEqual({});
    expect(JSON.parse(merged?.hours_json ?? 'null')).toEqual({ [hh]: { counts: { completed: 3, busy: 1, queued: 1 }, total_duration: 150, completed_duration: 150, completed_with_duration: 3 } });
    expect(await legacyStats()).toMatchObject({ total_calls: 5, completed_calls: 3, total_duration: 150 });
  });

  it('counts a repeated insert of a log once, and a log stored without a change once the catch-up has run', async () => {
    const id = logs.newId();
    const before = await stats();
    // The repeat of an insert whose reply was lost: the same log id.
    const fields = { tenant_id: alice.tenantId, created_by: alice.sub, user_profile_id: null, agent_instance_id: null, schedule_id: null, occurrence_at: null, status: 'queued' as const, call_type: 'outbound', phone: '+14155550101', timestamp: new Date(), notes: null, metadata: {}, attempt_number: 1 };
    await logs.createForAttempt(id, fields, new Date());
    await logs.createForAttempt(id, fields, new Date());
    expect((await stats()).total_calls).toBe(before.total_calls + 1);

    // Written behind the service's back (as by a version before the hourly stats): not counted until the catch-up.
    const raw = Array.from({ length: 5 }, (_, i) => ({
      _id: new Types.ObjectId(),
      ...fields,
      status: i % 2 ? 'completed' : 'in_progress',
      duration: i % 2 ? 30 + i : null,
      timestamp: new Date(base.getTime() + i * HOUR_MS),
      timeline: [],
      last_updated: new Date(),
    }));
    await model.collection.insertMany(raw);
    expect((await stats()).total_calls).toBe(before.total_calls + 1);
    // A callback on one of them while the catch-up runs: the gate orders the two, and the log counts once, as it ends.
    const done = new Date();
    await Promise.all([
      t.get<CallStatsFoldJob>(CallStatsFoldJob).catchUp(),
      logs.applyStatusEvent(raw[0]._id.toHexString(), { status: 'completed', ts: done, received_at: done, sequence_number: 9, source: 'provider_callback', provider_status: 'completed' }, { duration: 11 }, done),
    ]);
    expect(await stats()).toEqual(await fromLogs());
    await t.get<CallStatsRepository>(CallStatsRepository).fold(everything());
    expect(await stats('day')).toEqual(await fromLogs(true));
  });
});
