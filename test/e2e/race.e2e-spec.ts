import { getConnectionToken } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import request from 'supertest';
import { randomBytes } from 'node:crypto';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { CampaignRunner } from '../../src/campaign/campaign-runner.service';
import { Clock } from '../../src/common/clock/clock';
import { SchedulerConfigService } from '../../src/scheduler-config/scheduler-config.service';
import { WebhookDeliveryRepository } from '../../src/notification/webhook-delivery.repository';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { RecordingCallDispatcher } from '../utils/recording-dispatcher';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig, testDatabaseUri } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { postTwilioCallback, twilioCallbackParams } from '../utils/twilio-callbacks';
import { waitFor } from '../utils/wait';

// Races that FerretDB (no atomic update: read, modify in Go, overwrite the whole document) used to lose:
// 20 contenders at once, spread over two service instances on one database. Every assertion is about what
// must hold on any engine; nothing here relies on the database being slow or non-atomic.
const CONTENDERS = 20;
const PUBLIC_BASE = 'https://scheduler.example.com';
const SIGNING_TOKEN = 'race-test-signing-token-0123456789abcd';
const PATH = '/webhook/call-status';
const alice = bearer(tokenFor('race-alice'));
const ALL_DAY = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00' };

describe('concurrent writers on one document (two instances, real database)', () => {
  const clock = new TestClock();
  const recorder = new RecordingCallDispatcher();
  let a: TestApp;
  let b: TestApp;
  const apps = () => [a, b];
  const pick = (i: number) => (i % 2 === 0 ? a : b);
  const http = (i = 0) => request(pick(i).app.getHttpServer());

  beforeAll(async () => {
    // The scheduler is off on both: the test plays the sweeper's part, so every dispatch is one it started.
    // Commands monitored (through the URI, as hot-path-queries does): one test counts the statements of a burst.
    const uri = new URL(testDatabaseUri());
    uri.searchParams.set('monitorCommands', 'true');
    const config = testConfig({ MONGODB_URI: uri.toString(), SCHEDULER_ENABLED: 'false', PUBLIC_BASE_URL: PUBLIC_BASE, SIMULATOR_SIGNING_TOKEN: SIGNING_TOKEN, SCHEDULER_MISFIRE_GRACE_TIME: '300', NOTIFICATION_ALLOW_PRIVATE_URLS: 'true' });
    const make = () => createTestApp({ config, override: (o) => o.overrideProvider(Clock).useValue(clock).overrideProvider(CallDispatcher).useValue(recorder) });
    [a, b] = [await make(), await make()];
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });
  beforeEach(() => clock.set(new Date()));

  const dispatch = (i: number, id: string) => pick(i).get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id);
  const getSchedule = async (id: string) => (await http().get(`/schedule/${id}`).set(alice).expect(200)).body.schedule;
  const createSchedule = async (at: Date): Promise<string> =>
    (await http().post('/schedule/').set(alice).send({ phone: '+14155552671', scheduled_time: at.toISOString() }).expect(200)).body.schedule_id;
  const logsOf = (scheduleId: string) => a.get<CallLogRepository>(CallLogRepository).findForSchedule(scheduleId);
  const callSidOf = (logId: string) => `RC${logId.padStart(32, '0')}`;

  function callback(i: number, logId: string, callSid: string, status: string, sequence: number, extra: Record<string, string> = {}) {
    return postTwilioCallback(pick(i).app.getHttpServer(), PUBLIC_BASE, SIGNING_TOKEN, `${PATH}?call_log_id=${logId}`, twilioCallbackParams(callSid, status, sequence, extra));
  }

  // A one-time schedule, due now and dispatched once: its call log and the provider's call id.
  async function dialedSchedule(): Promise<{ scheduleId: string; logId: string; callSid: string }> {
    const at = new Date(Date.now() + 60_000);
    const scheduleId = await createSchedule(at);
    clock.set(at);
    expect((await dispatch(0, scheduleId)).outcome).toBe('dispatched');
    const [log] = await logsOf(scheduleId);
    return { scheduleId, logId: log.id, callSid: callSidOf(log.id) };
  }

  it(`${CONTENDERS} different status callbacks of one call at once: every one lands in the timeline, the status only moves forward`, async () => {
    const { scheduleId, logId, callSid } = await dialedSchedule();
    const progress = ['initiated', 'ringing', 'in-progress'];
    const statuses = Array.from({ length: CONTENDERS }, (_, n) => (n === CONTENDERS - 1 ? 'completed' : progress[n % progress.length]));
    const responses = await Promise.all(statuses.map((status, n) => callback(n, logId, callSid, status, n, status === 'completed' ? { CallDuration: '42' } : {})));
    expect(responses.map((r) => r.status)).toEqual(statuses.map(() => 200));

    // Every callback is in the log as the tracking API shows it, exactly once.
    const { body } = await http(1).get('/schedule/tracking/logs').query({ schedule_id: scheduleId }).set(alice).expect(200);
    const [log] = body.logs ?? body.items ?? body.data;
    const fromCallbacks = log.timeline.filter((e: { source: string }) => e.source === 'twilio_callback');
    expect(fromCallbacks.map((e: { sequence_number: number }) => e.sequence_number).sort((x: number, y: number) => x - y)).toEqual(statuses.map((_, n) => n));
    expect(log).toMatchObject({ status: 'completed', duration: 42 });
    // The final status reached the schedule, and nothing put it back.
    expect(await getSchedule(scheduleId)).toMatchObject({ status: 'completed', last_call_status: 'completed' });
  });

  it(`${CONTENDERS} concurrent pauses and dispatches of one schedule: one side wins and nothing goes back`, async () => {
    for (let round = 0; round < 3; round++) {
      // Back to real time first: the last round left the clock at its due time, and a create measured
      // against it could find this round's time (a minute ahead of the wall clock) already past.
      clock.set(new Date());
      const at = new Date(Date.now() + 60_000);
      const id = await createSchedule(at);
      clock.set(at);
      const half = CONTENDERS / 2;
      const [pauses, dispatches] = await Promise.all([
        Promise.all(Array.from({ length: half }, (_, i) => http(i).post(`/schedule/${id}/pause`).set(alice))),
        Promise.all(Array.from({ length: half }, (_, i) => dispatch(i + 1, id))),
      ]);
      const paused = pauses.filter((r) => r.status === 200 || r.status === 201).length;
      expect(pauses.every((r) => [200, 201, 409].includes(r.status))).toBe(true);
      const dialed = recorder.dials.filter((d) => d.scheduleId === id).length;
      const dispatched = dispatches.filter((o) => o.outcome === 'dispatched').length;
      const schedule = await getSchedule(id);
      // Exactly one side won: a pause that answered success means nothing dialed, and the other way round.
      expect(paused + dispatched).toBe(1);
      expect(dialed).toBe(dispatched);
      if (paused === 1) {
        expect(schedule.status).toBe('paused');
        expect(await logsOf(id)).toHaveLength(0);
        // Resume brings it back to the occurrence it never dialed.
        await http().post(`/schedule/${id}/resume`).set(alice).expect((r) => expect([200, 201]).toContain(r.status));
        expect((await getSchedule(id)).status).toBe('scheduled');
      } else {
        expect(schedule.status).toBe('running');
        const { callSid, id: logId } = { ...(await logsOf(id))[0], callSid: callSidOf((await logsOf(id))[0].id) };
        expect((await callback(0, logId, callSid, 'completed', 5)).status).toBe(200);
        expect((await getSchedule(id)).status).toBe('completed');
      }
      const events: Array<{ type: string }> = schedule.events;
      expect(events.filter((e) => e.type === 'paused')).toHaveLength(paused);
    }
  });

  it('128 schedules due at the same instant, dispatched on both instances while some are paused: each dials once or is paused, and their advances share statements', async () => {
    clock.set(new Date());
    const at = new Date(Date.now() + 60_000);
    // Created on one instance, which remembers each schedule as it stored it. 128 schedules in 64 due shards:
    // some shard holds more than one.
    const ids: string[] = [];
    for (let i = 0; i < 128; i++) ids.push(await createSchedule(at));
    clock.set(at);
    const statements: Array<{ grouped: number; filter: Record<string, unknown> }> = [];
    const client = a.get<Connection>(getConnectionToken()).getClient();
    const onStart = (e: { commandName: string; command: Record<string, unknown> }) => {
      if (e.commandName !== 'update' || e.command.update !== 'call_schedules') return;
      for (const { q } of e.command.updates as Array<{ q: Record<string, unknown> & { _id?: { $in?: unknown[] } } }>) statements.push({ grouped: q._id?.$in?.length ?? 0, filter: q });
    };
    client.on('commandStarted', onStart);
    let pauses: request.Response[];
    let onA: Array<{ outcome: string }>;
    try {
      [onA, , pauses] = await Promise.all([
        Promise.all(ids.map((id) => dispatch(0, id))),
        Promise.all(ids.map((id) => dispatch(1, id))),
        Promise.all(ids.filter((_, i) => i % 3 === 0).map((id) => http(1).post(`/schedule/${id}/pause`).set(alice))),
      ]);
    } finally {
      client.off('commandStarted', onStart);
    }
    expect(pauses.every((r) => [200, 201, 409].includes(r.status))).toBe(true);
    const paused = new Set(ids.filter((_, i) => i % 3 === 0).filter((_, j) => pauses[j].status !== 409));
    for (const id of ids) {
      const dials = recorder.dials.filter((d) => d.scheduleId === id).length;
      const { status } = await getSchedule(id);
      expect({ id, dials, status }).toEqual({ id, dials: paused.has(id) ? 0 : 1, status: paused.has(id) ? 'paused' : 'running' });
    }
    // The instance that remembered them wrote its advances a shard at a time: fewer statements than advances.
    const grouped = statements.filter((u) => u.grouped > 1);
    expect(grouped.length).toBeGreaterThan(0);
    expect(statements.length).toBeLessThan(onA.filter((o) => o.outcome === 'dispatched').length);
    // Beside the ids and their revision, only scalar equalities, which the stand-in pushes down: a statement
    // reads its shard's due schedules, not the collection.
    for (const { filter } of grouped) {
      const { _id: _ids, rev, ...where } = filter;
      // And the revision each member's gate was won for: never written over a newer one.
      expect(rev).toBeDefined();
      // In this order: the stand-in tests them in order, and the shard lets through at most a 64th of the rows.
      expect(Object.keys(where)).toEqual(['due_shard', 'due_slot', 'next_execution', 'status']);
      expect(Object.values(where).every((v) => typeof v === 'string' || typeof v === 'number' || v instanceof Date)).toBe(true);
    }
  }, 180_000);

  it(`${CONTENDERS} campaign attempts settled at once by callbacks, the event listener and the tick on two instances: the counters add up`, async () => {
    const id = (await http().post('/campaigns').set(alice).send({ name: 'Race', calling_window: ALL_DAY, retry_delay: 0, max_concurrent_calls: CONTENDERS, max_attempts: 1 }).expect(201)).body.campaign.id;
    const contacts = Array.from({ length: CONTENDERS }, (_, n) => ({ phone: `+1415555${String(1000 + n)}` }));
    await http().post(`/campaigns/${id}/contacts`).set(alice).set('content-type', 'application/json').send(JSON.stringify(contacts)).expect(200);
    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
    const runners = apps().map((app) => app.get<CampaignRunner>(CampaignRunner));
    const progress = async () => (await http().get(`/campaigns/${id}`).set(alice).expect(200)).body.campaign.progress;
    // Both instances' ticks start attempts at once; the seats and the attempt ledger keep it to one each.
    await Promise.all(runners.map((r) => r.advance(id)));
    await waitFor(async () => (await progress()).in_progress === CONTENDERS || (await Promise.all(runners.map((r) => r.advance(id))) && false), 60_000, 200);

    const listed = (await http().get(`/campaigns/${id}/contacts`).query({ limit: 500 }).set(alice).expect(200)).body.contacts as Array<{ id: string; attempts: number; status: string }>;
    expect(listed.every((c) => c.attempts === 1)).toBe(true);
    const attempts = await a.get<Connection>(getConnectionToken()).collection('campaign_attempts').find({ campaign_id: id }).toArray();
    const scheduleIds: string[] = attempts.map((x) => x.schedule_id as string);
    expect(scheduleIds).toHaveLength(CONTENDERS);
    clock.set(new Date(Date.now() + 5_000));
    const outcomes = await Promise.all(scheduleIds.map((s, i) => dispatch(i, s)));
    expect(outcomes.filter((o) => o.outcome === 'dispatched')).toHaveLength(CONTENDERS);

    // Half complete, half are busy; each settlement races the other instance's listener and a tick.
    const logs = (await Promise.all(scheduleIds.map((s) => logsOf(s)))).map((l) => l[0]);
    const responses = await Promise.all([
      ...logs.map((log, n) => callback(n, log.id, callSidOf(log.id), n % 2 === 0 ? 'completed' : 'busy', 3)),
      ...scheduleIds.map((s, n) => runners[n % 2].settleBySchedule(s)),
      ...runners.map((r) => r.advance(id)),
    ]);
    expect(responses.slice(0, CONTENDERS).map((r) => (r as { status: number }).status)).toEqual(logs.map(() => 200));
    const done = await waitFor(async () => {
      await Promise.all(runners.map((r) => r.advance(id)));
      const p = await progress();
      return p.in_progress === 0 ? p : null;
    }, 60_000, 200);
    expect(done).toMatchObject({ completed: CONTENDERS / 2, exhausted: CONTENDERS / 2, pending: 0, not_reached: 0, failed: 0, total: CONTENDERS });
    const after = (await http().get(`/campaigns/${id}/contacts`).query({ limit: 500 }).set(alice).expect(200)).body.contacts as Array<{ attempts: number }>;
    expect(after.every((c) => c.attempts === 1)).toBe(true);
    // Every attempt dialed once.
    expect(recorder.dials.filter((d) => scheduleIds.includes(d.scheduleId ?? ''))).toHaveLength(CONTENDERS);
  }, 180_000);

  it(`${CONTENDERS} concurrent webhook delivery claims and attempt records: one sender, no attempt lost`, async () => {
    const repos = apps().map((app) => app.get<WebhookDeliveryRepository>(WebhookDeliveryRepository));
    const now = clock.now();
    const delivery = await repos[0].create(
      { tenant_id: 'race-alice', subscription_id: randomBytes(12).toString('hex'), event_id: `evt_${randomBytes(8).toString('hex')}`, event_type: 'call.completed', payload: '{}', redelivery_of: null },
      now,
    );
    const lease = new Date(now.getTime() + 30_000);
    const claims = await Promise.all(Array.from({ length: CONTENDERS }, (_, i) => repos[i % 2].claimDue(delivery.id, now, lease)));
    expect(claims.filter((c) => c !== null)).toHaveLength(1);

    await Promise.all(
      Array.from({ length: CONTENDERS }, (_, n) =>
        repos[n % 2].recordAttempt(delivery.id, { status: 'retrying', next_attempt_at: now, attempt: { number: n + 1, at: now, url: 'https://example.com/hook', status_code: 500, error: null, duration_ms: 1, response_excerpt: null } }, now),
      ),
    );
    const stored = await repos[1].findById(delivery.id);
    expect(stored?.attempt_count).toBe(CONTENDERS);
    expect(stored?.attempts.map((x) => x.number).sort((p, q) => p - q)).toEqual(Array.from({ length: CONTENDERS }, (_, n) => n + 1));
  });

  it(`${CONTENDERS} partial updates of one config and of one subscription at once: every field keeps a value written to it`, async () => {
    const owner = bearer(tokenFor('race-settings-owner', { tenantId: 'race-settings' }));
    const half = CONTENDERS / 2;
    // Half the writers change one field, half another: a write computed from a stale read would put the
    // other field back to what it read (the default), so each field must end with a value written to it.
    const limits = Array.from({ length: half }, (_, n) => n + 1);
    const times = Array.from({ length: half }, (_, n) => `0${n}:30`);
    const puts = await Promise.all(
      Array.from({ length: CONTENDERS }, (_, i) =>
        http(i).put('/scheduler/config').set(owner).send(i % 2 === 0 ? { max_calls_per_day: limits[i >> 1] } : { daily_call_time: times[i >> 1] }),
      ),
    );
    expect(puts.map((r) => r.status)).toEqual(Array(CONTENDERS).fill(200));
    const config = (await http().get('/scheduler/config').set(owner).expect(200)).body.config;
    expect(limits).toContain(config.max_calls_per_day);
    expect(times).toContain(config.daily_call_time);

    const created = await http().post('/notifications/subscriptions').set(owner).send({ url: 'http://127.0.0.1:9/hooks', events: ['call.*'], description: 'start' }).expect(201);
    const id = created.body.subscription.id;
    const descriptions = Array.from({ length: half }, (_, n) => `d${n}`);
    const eventSets = Array.from({ length: half }, (_, n) => [n % 2 === 0 ? 'schedule.created' : 'schedule.paused', `call.*`]);
    const patches = await Promise.all(
      Array.from({ length: CONTENDERS }, (_, i) =>
        http(i).patch(`/notifications/subscriptions/${id}`).set(owner).send(i % 2 === 0 ? { description: descriptions[i >> 1] } : { events: eventSets[i >> 1] }),
      ),
    );
    expect(patches.map((r) => r.status)).toEqual(Array(CONTENDERS).fill(200));
    const subscription = (await http().get(`/notifications/subscriptions/${id}`).set(owner).expect(200)).body.subscription;
    expect(descriptions).toContain(subscription.description);
    expect(eventSets.map((e) => JSON.stringify(e))).toContain(JSON.stringify(subscription.events));
  });

  it(`${CONTENDERS} daily batch runs at once release each contact once and stay within max_calls_per_day`, async () => {
    const cap = 5;
    const tenant = 'race-batch';
    const owner = bearer(tokenFor('race-batch-owner', { tenantId: tenant }));
    await http().put('/scheduler/config').set(owner).send({ max_calls_per_day: cap, timezone: 'UTC', max_concurrent_calls: 1 }).expect(200);
    const id = (await http().post('/campaigns').set(owner).send({ name: 'Batch race', calling_window: ALL_DAY, call_days_before: 3, max_concurrent_calls: 1 }).expect(201)).body.campaign.id;
    const today = clock.now().toISOString().slice(0, 10);
    const contacts = Array.from({ length: 3 * cap }, (_, n) => ({ phone: `+1415556${String(1000 + n)}`, due_date: today }));
    await http().post(`/campaigns/${id}/contacts`).set(owner).set('content-type', 'application/json').send(JSON.stringify(contacts)).expect(200);
    await http().post(`/campaigns/${id}/start`).set(owner).expect(200);

    const services = apps().map((app) => app.get<SchedulerConfigService>(SchedulerConfigService));
    const queued = await Promise.all(Array.from({ length: CONTENDERS }, (_, i) => services[i % 2].runSelection(tenant)));
    expect(queued.reduce((x, y) => x + y, 0)).toBe(cap);
    const entries = await a.get<Connection>(getConnectionToken()).collection('daily_batch_entries').find({ tenant_id: tenant, day: today }).toArray();
    expect(entries).toHaveLength(cap);
    expect(new Set(entries.map((e) => e.contact_id)).size).toBe(cap);
  });
});
