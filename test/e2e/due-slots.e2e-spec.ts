import { getConnectionToken } from '@nestjs/mongoose';
import { Connection, Types } from 'mongoose';
import request from 'supertest';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { Clock } from '../../src/common/clock/clock';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { DUE_SLOT_MS } from '../../src/schedule/due-slot';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { RecordingCallDispatcher } from '../utils/recording-dispatcher';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig, testDatabaseUri } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const owner = bearer(tokenFor('slot-owner'));
const slotOf = (iso: string | number | Date) => Math.floor(new Date(iso).getTime() / DUE_SLOT_MS);

// The sweeper reads what is due by call_schedules.due_slot, which every write of next_execution moves with it.
describe('due slots (e2e)', () => {
  const MONGODB_URI = testDatabaseUri();
  const clock = new TestClock();
  let t: TestApp;
  let db: Connection;
  const http = () => request(t.app.getHttpServer());
  const stored = (id: string) => db.collection('call_schedules').findOne({ _id: new Types.ObjectId(id) });
  const create = async (at: Date, extra: Record<string, unknown> = {}) =>
    (await http().post('/schedule/').set(owner).send({ phone: '+14155552671', scheduled_time: at.toISOString(), ...extra }).expect(200)).body.schedule_id as string;

  beforeAll(async () => {
    // The scheduler is off here: the test calls the dispatch itself.
    const config = testConfig({ MONGODB_URI });
    t = await createTestApp({
      config: { ...config, scheduler: { ...config.scheduler, enabled: false } },
      override: (b) => b.overrideProvider(Clock).useValue(clock).overrideProvider(CallDispatcher).useValue(new RecordingCallDispatcher()),
    });
    db = t.get<Connection>(getConnectionToken());
  });
  afterAll(() => t.close());
  beforeEach(() => clock.set(new Date()));

  it('is written with next_execution on create, advance, pause, resume and update, and never shown', async () => {
    const start = new Date(Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000);
    const id = await create(start, { repeat_config: { enabled: true, frequency: 'hourly' } });
    const slotMatches = async () => {
      const doc = await stored(id);
      return { due_slot: doc?.due_slot ?? null, expected: doc?.next_execution ? slotOf(doc.next_execution as Date) : null };
    };
    expect(await slotMatches()).toEqual({ due_slot: slotOf(start), expected: slotOf(start) });

    clock.set(start);
    expect((await t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id)).outcome).toBe('dispatched');
    expect((await stored(id))?.next_execution).toEqual(new Date(start.getTime() + 3_600_000));
    expect(await slotMatches()).toEqual({ due_slot: slotOf(start.getTime() + 3_600_000), expected: slotOf(start.getTime() + 3_600_000) });

    await http().post(`/schedule/${id}/pause`).set(owner).expect(200);
    clock.set(new Date(start.getTime() + 5 * 3_600_000 + 60_000));
    const resumed = (await http().post(`/schedule/${id}/resume`).set(owner).expect(200)).body.schedule;
    expect(resumed).not.toHaveProperty('due_slot');
    const after = await slotMatches();
    expect(after.due_slot).toBe(slotOf(resumed.next_execution));
    expect(after.due_slot).toBe(after.expected);

    const moved = new Date(start.getTime() + 48 * 3_600_000);
    await http().put(`/schedule/${id}`).set(owner).send({ scheduled_time: moved.toISOString() }).expect(200);
    expect(await slotMatches()).toEqual({ due_slot: slotOf(moved), expected: slotOf(moved) });
  });

  it("reads a slot's scheduled schedules up to the horizon, and leaves the whole list to the catch-up read", async () => {
    const repo = t.get<ScheduleRepository>(ScheduleRepository);
    // A slot of its own, far out, so that no other test's schedules share it.
    const slot = slotOf(new Date(Date.now() + 30 * 86_400_000)) + 1;
    const at = (minutes: number) => new Date(slot * DUE_SLOT_MS + minutes * 60_000);
    const [early, late, paused, legacy] = [await create(at(1)), await create(at(8)), await create(at(2)), await create(at(3))];
    await http().post(`/schedule/${paused}/pause`).set(owner).expect(200);
    // Stored by a version before slots: it has next_execution and no due_slot.
    await db.collection('call_schedules').updateOne({ _id: new Types.ObjectId(legacy) }, { $unset: { due_slot: true } });

    const inSlot = await repo.findDueInSlots([slot], at(5), 100);
    expect(inSlot.map((d) => d.id)).toEqual([early]);
    const beyond = await repo.findDueInSlots([slot - 1, slot], at(9), 100);
    expect(beyond.map((d) => d.id)).toEqual([early, late]);
    const whole = (await repo.findDueSchedules(at(9), 100_000)).map((d) => d.id);
    expect(whole).toEqual(expect.arrayContaining([early, legacy, late]));
    expect(whole).not.toContain(paused);
  });

  // A burst's read holds whole shards (0037): within one due time it goes by due_shard, and an earlier due
  // time still comes first whatever its shard.
  it('reads schedules due at one time in shard order, after every earlier due time', async () => {
    const repo = t.get<ScheduleRepository>(ScheduleRepository);
    const slot = slotOf(new Date(Date.now() + 45 * 86_400_000)) + 1;
    const at = (minutes: number) => new Date(slot * DUE_SLOT_MS + minutes * 60_000);
    const burst: string[] = [];
    for (let i = 0; i < 12; i++) burst.push(await create(at(2)));
    const earlier = await create(at(1));
    // Ids made one after another mostly have rising shards (the shard is the id's low byte): these are given
    // falling ones, so that only the sort can put them in shard order.
    await Promise.all(burst.map((id, i) => db.collection('call_schedules').updateOne({ _id: new Types.ObjectId(id) }, { $set: { due_shard: 40 - i } })));
    const read = (await repo.findDueInSlots([slot], at(5), 100)).map((d) => d.id);
    expect(read).toEqual([earlier, ...[...burst].reverse()]);
    // A read that stops within the burst stops in shard order too.
    expect((await repo.findDueInSlots([slot], at(5), 5)).map((d) => d.id)).toEqual(read.slice(0, 5));
  });

  it('pages the catch-up read by due time, then id: every schedule once, ties included', async () => {
    const repo = t.get<ScheduleRepository>(ScheduleRepository);
    const slot = slotOf(new Date(Date.now() + 60 * 86_400_000));
    const at = new Date(slot * DUE_SLOT_MS + 60_000);
    // Five due at the same instant and one a minute later; everything else in the database falls due earlier.
    const tied = [];
    for (let i = 0; i < 5; i++) tied.push(await create(at));
    const later = await create(new Date(at.getTime() + 60_000));
    const horizon = new Date(at.getTime() + 60_000);
    const before = (await repo.findDueSchedules(new Date(at.getTime() - 1), 100_000)).length;
    const seen: string[] = [];
    let after: { id: string; next_execution: Date } | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const page = await repo.findDueSchedules(horizon, 2, after);
      seen.push(...page.map((d) => d.id));
      if (page.length < 2) break;
      after = page[page.length - 1];
    }
    expect(seen).toHaveLength(before + 6);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(-6)).toEqual([...[...tied].sort(), later]);
  });
});

describe('due slots, swept (e2e)', () => {
  const clock = new TestClock();
  const recorder = new RecordingCallDispatcher();
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ override: (b) => b.overrideProvider(Clock).useValue(clock).overrideProvider(CallDispatcher).useValue(recorder) });
  });
  afterAll(() => t.close());

  it('dials schedules stored without a slot before it started, none early, through a catch-up read of several pages', async () => {
    const MONGODB_URI = testDatabaseUri();
    const base = testConfig({ MONGODB_URI });
    const writer = await createTestApp({ config: { ...base, scheduler: { ...base.scheduler, enabled: false } } });
    const dials = new RecordingCallDispatcher();
    let sweeper: TestApp | undefined;
    try {
      const db = writer.get<Connection>(getConnectionToken());
      const due = new Date(Date.now() + 15_000);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await request(writer.app.getHttpServer()).post('/schedule/').set(owner).send({ phone: `+1415555012${i}`, scheduled_time: due.toISOString() }).expect(200);
        ids.push(res.body.schedule_id as string);
      }
      // As an earlier version stored them.
      await db.collection('call_schedules').updateMany({ _id: { $in: ids.map((id) => new Types.ObjectId(id)) } }, { $unset: { due_slot: true } });
      // Pages of two: the catch-up at start has to read three pages to set every timer.
      sweeper = await createTestApp({ env: { MONGODB_URI, SCHEDULER_SWEEP_BATCH: '2' }, override: (b) => b.overrideProvider(CallDispatcher).useValue(dials) });
      await waitFor(async () => ids.every((id) => dials.dials.some((d) => d.scheduleId === id)), 60_000, 100);
      expect(dials.dials.filter((d) => ids.includes(d.scheduleId ?? ''))).toHaveLength(5);
      for (const d of dials.dials) expect(d.at).toBeGreaterThanOrEqual(due.getTime() - 1000);
    } finally {
      await sweeper?.close();
      await writer.close();
    }
  }, 90_000);

  it('dials a schedule stored without a slot: the catch-up read finds it', async () => {
    const db = t.get<Connection>(getConnectionToken());
    const owner2 = bearer(tokenFor('slot-sweeper'));
    // Beyond the lookahead, so that neither a poll nor the create's trigger arms it before the clock moves.
    const at = new Date(Date.now() + 30 * 60_000);
    const send = (phone: string) => request(t.app.getHttpServer()).post('/schedule/').set(owner2).send({ phone, scheduled_time: at.toISOString() }).expect(200);
    const slotted = (await send('+14155550111')).body.schedule_id as string;
    const legacy = (await send('+14155550112')).body.schedule_id as string;
    await db.collection('call_schedules').updateOne({ _id: new Types.ObjectId(legacy) }, { $unset: { due_slot: true } });
    expect((await db.collection('call_schedules').findOne({ _id: new Types.ObjectId(legacy) }))?.due_slot).toBeUndefined();

    clock.set(at);
    await waitFor(async () => [slotted, legacy].every((id) => recorder.dials.some((d) => d.scheduleId === id)), 30_000, 50);
    expect(recorder.dials.filter((d) => d.scheduleId === slotted || d.scheduleId === legacy)).toHaveLength(2);
  });
});
