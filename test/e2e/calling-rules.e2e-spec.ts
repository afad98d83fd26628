import request from 'supertest';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { Clock } from '../../src/common/clock/clock';
import { AGENDA_COLLECTION } from '../../src/jobs/job-queue.service';
import { CallDeferredJob } from '../../src/schedule/dispatch/call-deferred.job';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { FakeTwilioServer } from '../fakes/fake-twilio.server';
import { throughFakeTwilio, twilioTestEnv } from '../utils/fake-twilio-app';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { postTwilioCallback } from '../utils/twilio-callbacks';
import { waitFor } from '../utils/wait';

const SID = `AC${'0123456789abcdef'.repeat(2)}`;
const TOKEN = 'fake-twilio-auth-token-0123456789';
const PUBLIC = 'https://calls.example.com';
const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7];
const DAYTIME = { days: EVERY_DAY, start: '08:00', end: '21:00', holidays: [] };

interface ScheduleEvent {
  type: string;
  data: Record<string, unknown>;
}

async function twilioApp(fake: FakeTwilioServer, clock: TestClock, extra: Record<string, string> = {}): Promise<TestApp> {
  const config = testConfig({
    ...twilioTestEnv({ sid: SID, token: TOKEN, publicBaseUrl: PUBLIC }),
    ...extra,
  });
  return createTestApp({
    config,
    override: (b) => throughFakeTwilio(config, fake.url)(b.overrideProvider(Clock).useValue(clock)),
  });
}

function helpers(getApp: () => TestApp, auth: Record<string, string>) {
  const http = () => request(getApp().app.getHttpServer());
  const getSchedule = async (id: string) => (await http().get(`/schedule/${id}`).set(auth).expect(200)).body.schedule;
  const eventOf = async (id: string, type: string): Promise<ScheduleEvent | null> =>
    ((await getSchedule(id)).events as ScheduleEvent[]).find((e) => e.type === type) ?? null;
  const deferredJobs = async (id: string) =>
    getApp()
      .get<Connection>(getConnectionToken())
      .collection(AGENDA_COLLECTION)
      .find({ name: 'call.deferred', 'data.schedule_id': id })
      .toArray();
  const create = async (body: Record<string, unknown>) => (await http().post('/schedule/').set(auth).send(body).expect(200)).body.schedule_id as string;
  return { http, getSchedule, eventOf, deferredJobs, create };
}

describe('calling rules (callee-local calling hours, fake Twilio over HTTP)', () => {
  // Dates a year ahead of the wall clock (the last test excepted, which is about the real Agenda): the
  // deferred job is stored for the service clock's time, and the real Agenda, which polls on the wall clock,
  // would run a job dated in the past at once, under the test.
  const Y = new Date().getUTCFullYear() + 1;
  // The second Sunday of March: clocks go forward in New York at 02:00 local time.
  const dstDay = String(8 + ((7 - new Date(Date.UTC(Y, 2, 1)).getUTCDay()) % 7)).padStart(2, '0');
  const fake = new FakeTwilioServer(SID, TOKEN);
  const clock = new TestClock();
  const auth = bearer(tokenFor('hours-user'));
  let t: TestApp;
  let seq = 0;
  const { http, getSchedule, eventOf, deferredJobs, create } = helpers(() => t, auth);
  // New York (212), Los Angeles (415), Boise + Los Angeles (208): the area code decides the zone.
  const phone = (area: string) => `+1${area}555${String(1000 + seq++).padStart(4, '0')}`;

  beforeAll(async () => {
    await fake.start();
    t = await twilioApp(fake, clock);
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });
  afterEach(() => clock.set(new Date()));

  // Waits until the sweeper has dispatched the schedule and the rules decided: dialed or deferred.
  const settled = (id: string) =>
    waitFor(async () => {
      const s = await getSchedule(id);
      return s.events.some((e: ScheduleEvent) => ['dispatched', 'deferred_calling_hours', 'skipped_dnc', 'dispatch_failed'].includes(e.type)) ? s : null;
    }, 20_000);

  it('defers a dial outside the callee window, records the event, and dials once at the opening', async () => {
    clock.set(new Date(`${Y}-12-01T12:00:00Z`)); // 07:00 in New York
    const to = phone('212');
    const id = await create({ phone: to, scheduled_time: `${Y}-12-01T12:00:02Z`, calling_window: DAYTIME });
    await settled(id);
    const deferred = await eventOf(id, 'deferred_calling_hours');
    expect(deferred!.data).toMatchObject({ until: `${Y}-12-01T13:00:00.000Z`, zones: ['America/New_York'], deferral: 1, attempt_number: 1, stage: 'before_dial' });
    expect(fake.createRequestsTo(to)).toHaveLength(0);
    expect(await t.get<CallLogRepository>(CallLogRepository).findForSchedule(id)).toHaveLength(0);
    const s = await getSchedule(id);
    expect(s).toMatchObject({ status: 'pending', last_call_status: 'deferred_calling_hours', respect_calling_hours: true, calling_window: DAYTIME });

    const [job] = await deferredJobs(id);
    expect(job.nextRunAt.toISOString()).toBe(`${Y}-12-01T13:00:00.000Z`);
    const handler = t.get<CallDeferredJob>(CallDeferredJob);
    clock.set(new Date(`${Y}-12-01T12:59:00Z`));
    expect(await handler.handle(job.data)).toEqual({ outcome: 'early', nextRunAt: new Date(`${Y}-12-01T13:00:00Z`) });
    // The opening, hours after the occurrence: dialed, not treated as a misfire; a second run dials nothing.
    clock.set(new Date(`${Y}-12-01T13:00:00Z`));
    const outcomes = await Promise.all([handler.handle(job.data), handler.handle(job.data)]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['already_claimed', 'dispatched']);
    expect(fake.createRequestsTo(to)).toHaveLength(1);
    const dispatched = await eventOf(id, 'dispatched');
    expect(dispatched!.data).toMatchObject({ deferral: 1, occurrence_at: `${Y}-12-01T12:00:02.000Z` });
    expect((await getSchedule(id)).status).toBe('running');
  });

  it('cancels a one-time call that waits for the calling hours; its deferred run then dials nothing', async () => {
    clock.set(new Date(`${Y}-12-03T12:00:00Z`)); // 07:00 in New York
    const to = phone('212');
    const id = await create({ phone: to, scheduled_time: `${Y}-12-03T12:00:02Z`, calling_window: DAYTIME });
    await settled(id);
    expect(await getSchedule(id)).toMatchObject({ status: 'pending', last_call_status: 'deferred_calling_hours' });
    const res = await http().post(`/schedule/${id}/cancel`).set(auth).expect(200);
    expect(res.body.schedule).toMatchObject({ status: 'cancelled', next_execution: null });
    // Not a second time: a cancelled schedule is no longer waiting.
    const again = await http().post(`/schedule/${id}/cancel`).set(auth).expect(409);
    expect(again.body).toMatchObject({ status: 'error', error_code: 'SCHEDULE_010', details: { field: 'status' } });

    const [job] = await deferredJobs(id);
    clock.set(new Date(`${Y}-12-03T13:00:00Z`));
    expect(await t.get<CallDeferredJob>(CallDeferredJob).handle(job.data)).toEqual({ outcome: 'inactive', nextRunAt: null });
    expect(fake.createRequestsTo(to)).toHaveLength(0);
    expect((await getSchedule(id)).status).toBe('cancelled');
  });

  it('decides per callee zone: at one instant Los Angeles is dialed and New York deferred', async () => {
    clock.set(new Date(`${Y}-12-02T02:30:00Z`)); // 21:30 in New York, 18:30 in Los Angeles
    const la = phone('415');
    const ny = phone('212');
    const laId = await create({ phone: la, scheduled_time: `${Y}-12-02T02:30:02Z`, calling_window: DAYTIME });
    const nyId = await create({ phone: ny, scheduled_time: `${Y}-12-02T02:30:02Z`, calling_window: DAYTIME });
    await settled(laId);
    await settled(nyId);
    expect(await eventOf(laId, 'dispatched')).not.toBeNull();
    expect(fake.createRequestsTo(la)).toHaveLength(1);
    expect((await eventOf(nyId, 'deferred_calling_hours'))!.data).toMatchObject({ until: `${Y}-12-02T13:00:00.000Z`, zones: ['America/New_York'] });
    expect(fake.createRequestsTo(ny)).toHaveLength(0);
  });

  it('defers across a DST change to the new local opening', async () => {
    clock.set(new Date(`${Y}-03-${dstDay}T06:00:00Z`)); // 01:00 EST; clocks go forward at 02:00 that night
    const id = await create({ phone: phone('212'), scheduled_time: `${Y}-03-${dstDay}T06:00:02Z`, calling_window: DAYTIME });
    await settled(id);
    // 08:00 EDT is 12:00Z, an hour earlier in UTC than the 13:00Z of the day before.
    expect((await eventOf(id, 'deferred_calling_hours'))!.data.until).toBe(`${Y}-03-${dstDay}T12:00:00.000Z`);
  });

  it('a number whose area code spans two zones waits for the overlap of both windows', async () => {
    clock.set(new Date(`${Y}-12-01T15:30:00Z`)); // 08:30 in Boise, 07:30 in Los Angeles
    const id = await create({ phone: phone('208'), scheduled_time: `${Y}-12-01T15:30:02Z`, calling_window: DAYTIME });
    await settled(id);
    const data = (await eventOf(id, 'deferred_calling_hours'))!.data;
    expect(data.until).toBe(`${Y}-12-01T16:00:00.000Z`);
    expect((data.zones as string[]).sort()).toEqual(['America/Boise', 'America/Los_Angeles']);
  });

  it('an explicit callee timezone wins over the number, and holidays count in callee-local dates', async () => {
    clock.set(new Date(`${Y}-12-01T12:00:00Z`)); // 21:00 in Tokyo: just closed
    const id = await create({
      phone: phone('212'),
      scheduled_time: `${Y}-12-01T12:00:02Z`,
      callee_timezone: 'Asia/Tokyo',
      calling_window: { ...DAYTIME, holidays: [`${Y}-12-02`] },
    });
    await settled(id);
    // 2026-12-02 is a holiday in Tokyo: the next opening is 08:00 on the 3rd, 23:00Z on the 2nd.
    expect((await eventOf(id, 'deferred_calling_hours'))!.data).toMatchObject({ until: `${Y}-12-02T23:00:00.000Z`, zones: ['Asia/Tokyo'] });
    expect((await getSchedule(id)).callee_timezone).toBe('Asia/Tokyo');
  });

  it('a one-off schedule may opt out of calling hours; a recurring one may not', async () => {
    clock.set(new Date(`${Y}-12-01T07:00:00Z`)); // 02:00 in New York
    const to = phone('212');
    const id = await create({ phone: to, scheduled_time: `${Y}-12-01T07:00:02Z`, calling_window: DAYTIME, respect_calling_hours: false });
    await settled(id);
    expect(await eventOf(id, 'dispatched')).not.toBeNull();
    expect(await eventOf(id, 'deferred_calling_hours')).toBeNull();
    expect(fake.createRequestsTo(to)).toHaveLength(1);

    const res = await http()
      .post('/schedule/')
      .set(auth)
      .send({ phone: phone('212'), scheduled_time: `${Y}-12-01T08:00:00Z`, respect_calling_hours: false, repeat_config: { enabled: true, frequency: 'daily' } })
      .expect(400);
    expect(res.body).toMatchObject({ error_code: 'SCHEDULE_017', details: { field: 'respect_calling_hours' } });
    const bad = await http()
      .post('/schedule/')
      .set(auth)
      .send({ phone: phone('212'), scheduled_time: `${Y}-12-01T08:00:00Z`, calling_window: { days: [1, 8], start: '09:00', end: '08:00' } })
      .expect(400);
    expect(bad.body).toMatchObject({ error_code: 'CALLING_RULES_001', details: { field: 'calling_window.days' } });
    const inverted = await http()
      .post('/schedule/')
      .set(auth)
      .send({ phone: phone('212'), scheduled_time: `${Y}-12-01T08:00:00Z`, calling_window: { days: [1], start: '09:00', end: '08:00' } })
      .expect(400);
    expect(inverted.body).toMatchObject({ error_code: 'CALLING_RULES_001', details: { field: 'calling_window.end' } });
  });

  it('a deferred dial fires through Agenda at the opening, once', async () => {
    // The opening is the last whole minute of real time, and the clock starts 3 s before it: Agenda
    // picks the deferred job up at once, and it waits (outcome early) until the clock reaches the opening.
    const opening = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    clock.set(new Date(opening.getTime() - 3000));
    const hhmm = opening.toISOString().slice(11, 16);
    const end = hhmm === '23:59' ? '24:00' : new Date(opening.getTime() + 60_000).toISOString().slice(11, 16);
    const to = phone('212');
    const id = await create({
      phone: to,
      scheduled_time: new Date(opening.getTime() - 2000).toISOString(),
      callee_timezone: 'UTC',
      calling_window: { days: EVERY_DAY, start: hhmm, end: end === '00:00' ? '24:00' : end, holidays: [] },
    });
    const [sent] = await waitFor(async () => (fake.createRequestsTo(to).length > 0 ? fake.createRequestsTo(to) : null), 30_000);
    expect((await eventOf(id, 'deferred_calling_hours'))!.data.until).toBe(opening.toISOString());
    // The fake records real time; the dial happened at or after the opening on the service's clock.
    const offset = clock.now().getTime() - Date.now();
    expect(sent.at + offset).toBeGreaterThanOrEqual(opening.getTime());
    // Agenda is done with the deferred job (a one-off that dialed: nothing left to run), and running it
    // again dials nothing.
    const job = await waitFor(async () => {
      const [stored] = await deferredJobs(id);
      return stored && stored.nextRunAt === null && !stored.lockedAt ? stored : null;
    }, 15_000);
    // Its claim refuses a second dial whether or not the call's final callback has ended the schedule yet.
    expect(['inactive', 'already_claimed']).toContain((await t.get<CallDeferredJob>(CallDeferredJob).handle(job.data)).outcome);
    expect(fake.createRequestsTo(to)).toHaveLength(1);
  });
});

describe('calling rules re-checked right before the provider request', () => {
  // Dates a year ahead of the wall clock: the deferred job is stored for the service clock's time, and the real
  // Agenda, which polls on the wall clock, would run a job dated in the past at once, under the test.
  const Y = new Date().getUTCFullYear() + 1;
  const fake = new FakeTwilioServer(SID, TOKEN);
  const clock = new TestClock();
  const auth = bearer(tokenFor('recheck-user'));
  let t: TestApp;
  const { http, getSchedule, eventOf, deferredJobs, create } = helpers(() => t, auth);

  beforeAll(async () => {
    await fake.start();
    // One call seat: the second call waits for the first to end, and the window closes meanwhile.
    t = await twilioApp(fake, clock, { MAX_CONCURRENT_CALLS: '1' });
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  // Ends the schedule's placed call, which gives its seat back.
  async function finishCall(scheduleId: string) {
    const log = await waitFor(async () => (await t.get<CallLogRepository>(CallLogRepository).findForSchedule(scheduleId)).find((l) => l.call_id), 15_000);
    const res = await postTwilioCallback(t.app.getHttpServer(), PUBLIC, TOKEN, `/webhook/call-status?call_log_id=${log.id}`, {
      AccountSid: SID,
      CallSid: log.call_id!,
      CallStatus: 'completed',
      CallDuration: '5',
      SequenceNumber: '3',
    });
    expect(res.status).toBe(200);
  }

  const waitingForSeat = (id: string) =>
    waitFor(async () => {
      const logs = await t.get<CallLogRepository>(CallLogRepository).findForSchedule(id);
      return logs.length === 1 && logs[0].status === 'queued' ? logs[0] : null;
    }, 15_000);

  it('defers a call whose wait for a seat carried it past the end of the window', async () => {
    clock.set(new Date(`${Y}-12-01T20:59:40Z`));
    const first = await create({ phone: '+14155550001', scheduled_time: `${Y}-12-01T20:59:42Z`, respect_calling_hours: false });
    const second = '+14155550002';
    const id = await create({ phone: second, scheduled_time: `${Y}-12-01T20:59:44Z`, callee_timezone: 'UTC', calling_window: DAYTIME });
    await waitFor(async () => (fake.createRequestsTo('+14155550001').length === 1 ? true : null), 15_000);
    const log = await waitingForSeat(id);
    expect((await getSchedule(id)).events.map((e: ScheduleEvent) => e.type)).not.toContain('deferred_calling_hours');

    clock.set(new Date(`${Y}-12-01T21:00:05Z`)); // the callee's window has closed
    await finishCall(first);
    const event = await waitFor(() => eventOf(id, 'deferred_calling_hours'), 15_000);
    expect(event.data).toMatchObject({ stage: 'before_request', until: `${Y}-12-02T08:00:00.000Z`, deferral: 1 });
    expect(fake.createRequestsTo(second)).toHaveLength(0);
    const [ended] = await t.get<CallLogRepository>(CallLogRepository).findForSchedule(id);
    expect(ended).toMatchObject({ id: log.id, status: 'canceled', error_code: 'deferred_calling_hours' });
    const [job] = await deferredJobs(id);
    expect(job.nextRunAt.toISOString()).toBe(`${Y}-12-02T08:00:00.000Z`);

    // At the opening it is dialed under a new call log.
    clock.set(new Date(`${Y}-12-02T08:00:00Z`));
    expect((await t.get<CallDeferredJob>(CallDeferredJob).handle(job.data)).outcome).toBe('dispatched');
    expect(fake.createRequestsTo(second)).toHaveLength(1);
    await finishCall(id);
  });

  it('skips a call whose number joined the do-not-call list while it waited', async () => {
    clock.set(new Date(`${Y}-12-03T12:00:00Z`));
    const first = await create({ phone: '+14155550003', scheduled_time: `${Y}-12-03T12:00:02Z` });
    const blocked = '+14155550004';
    const id = await create({ phone: blocked, scheduled_time: `${Y}-12-03T12:00:04Z` });
    await waitFor(async () => (fake.createRequestsTo('+14155550003').length === 1 ? true : null), 15_000);
    await waitingForSeat(id);
    await http().post('/dnc').set(auth).send({ phone: blocked, reason: 'asked while queued' }).expect(201);
    await finishCall(first);
    const event = await waitFor(() => eventOf(id, 'skipped_dnc'), 15_000);
    expect(event.data).toMatchObject({ reason: 'dnc' });
    // The event comes before the schedule's end: once the schedule has ended, the dispatch that would have
    // sent the request is over.
    const ended = await waitFor(async () => ((s) => (['scheduled', 'pending', 'running'].includes(s.status) ? null : s))(await getSchedule(id)), 15_000);
    expect(fake.createRequestsTo(blocked)).toHaveLength(0);
    expect(ended).toMatchObject({ status: 'completed', last_call_status: 'skipped_dnc' });
  });
});
