import { EventEmitter2 } from '@nestjs/event-emitter';
import { getConnectionToken } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import request from 'supertest';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { FormParams, signTwilioRequest } from '../../src/calls/webhook-signature';
import { Clock } from '../../src/common/clock/clock';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { CALL_RETRY_JOB } from '../../src/schedule/schedule.constants';
import { CallReconcileJob } from '../../src/status-update/call-reconcile.job';
import { CallStatusReceiptRepository } from '../../src/status-update/call-status-receipt.repository';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { CallLog } from '../../src/tracking/call-log.types';
import { CallStatus } from '../../src/tracking/call-status';
import { RecordingCallDispatcher } from '../utils/recording-dispatcher';
import { TestClock } from '../utils/test-clock';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { afterQueuedPublications } from '../utils/settle';
import { waitFor } from '../utils/wait';
import { WebhookReceiver } from '../utils/webhook-receiver';
import { DomainEventPublisher } from '../../src/notification/domain-event.publisher';
import { CallChangedEvent } from '../../src/notification/domain-events';
import { Types } from 'mongoose';

const PUBLIC_BASE = 'https://scheduler.example.com';
const SIGNING_TOKEN = 'reconcile-test-signing-token-0123456789';
const PATH = '/webhook/call-status';
const owner = bearer(tokenFor('reconcile-owner'));
// Past the sweep's grace for outcomes that are merely in progress.
const PAST_GRACE_MS = 60_000;

// Schedule outcomes the callback path can leave undone, and their repair: by the redelivery of the final
// callback, and by the periodic call.reconcile sweep.
describe('status callback outcomes left undone (e2e, real database)', () => {
  let t: TestApp;
  let logs: CallLogRepository;
  let schedules: ScheduleRepository;
  let receipts: CallStatusReceiptRepository;
  let reconcile: CallReconcileJob;
  let db: Connection;
  const clock = new TestClock();
  const recorder = new RecordingCallDispatcher();
  const events: Array<{ type: string; call_log_id?: string; schedule_id?: string }> = [];
  const hooks = new WebhookReceiver();

  beforeAll(async () => {
    await hooks.start();
    t = await createTestApp({
      env: { PUBLIC_BASE_URL: PUBLIC_BASE, SIMULATOR_SIGNING_TOKEN: SIGNING_TOKEN, NOTIFICATION_ALLOW_PRIVATE_URLS: 'true' },
      override: (b) => b.overrideProvider(CallDispatcher).useValue(recorder).overrideProvider(Clock).useValue(clock),
    });
    logs = t.get(CallLogRepository);
    schedules = t.get(ScheduleRepository);
    receipts = t.get(CallStatusReceiptRepository);
    reconcile = t.get(CallReconcileJob);
    db = t.get<Connection>(getConnectionToken());
    t.get<EventEmitter2>(EventEmitter2).onAny((type: string | string[], event: { call_log_id?: string; schedule_id?: string }) => {
      events.push({ type: String(type), call_log_id: event?.call_log_id, schedule_id: event?.schedule_id });
    });
  });
  afterAll(async () => {
    await t.close();
    await hooks.stop();
  });

  const http = () => request(t.app.getHttpServer());

  function callback(log: CallLog, params: FormParams) {
    const query = `?call_log_id=${log.id}`;
    return http()
      .post(`${PATH}${query}`)
      .set('content-type', 'application/x-www-form-urlencoded')
      .set('x-twilio-signature', signTwilioRequest(SIGNING_TOKEN, `${PUBLIC_BASE}${PATH}${query}`, params))
      .send(new URLSearchParams(params as Record<string, string>).toString());
  }

  const params = (callSid: string, status: string, sequence: number, extra: Record<string, string> = {}): Record<string, string> => ({
    AccountSid: `AC${'0'.repeat(32)}`,
    CallSid: callSid,
    CallStatus: status,
    SequenceNumber: String(sequence),
    Timestamp: clock.now().toUTCString(),
    To: '+14155552671',
    From: '+15005550006',
    Direction: 'outbound-api',
    ApiVersion: '2010-04-01',
    ...extra,
  });

  async function dispatchedCall(extra: Record<string, unknown> = {}): Promise<{ scheduleId: string; log: CallLog }> {
    const created = await http()
      .post('/schedule/')
      .set(owner)
      .send({ phone: '+14155552671', scheduled_time: new Date(clock.now().getTime() + 1200).toISOString(), ...extra })
      .expect(200);
    const scheduleId = created.body.schedule_id as string;
    const log = await waitFor(async () => {
      const [first] = await logs.findForSchedule(scheduleId);
      return first?.call_id ? first : null;
    }, 20_000);
    await waitFor(async () => (await getSchedule(scheduleId)).status === 'running', 10_000);
    return { scheduleId, log };
  }

  const getSchedule = async (id: string) => (await http().get(`/schedule/${id}`).set(owner).expect(200)).body.schedule;
  const eventsOfType = (type: string, key: { call_log_id?: string; schedule_id?: string }) =>
    events.filter((e) => e.type === type && (key.call_log_id ? e.call_log_id === key.call_log_id : e.schedule_id === key.schedule_id));

  // What a final callback leaves when its processing stops right after the log write and the receipt
  // cannot be withdrawn (instance killed, database gone): log final, receipt present, schedule untouched.
  async function cutOffAfterLogWrite(log: CallLog, status: CallStatus, providerStatus: string, sequence: number, duration: number, source = 'twilio_callback'): Promise<void> {
    const now = clock.now();
    await logs.applyStatusEvent(
      log.id,
      { status, ts: now, received_at: now, sequence_number: sequence, source, provider_status: providerStatus },
      { call_id: log.call_id as string, end_time: now, duration },
      now,
    );
    const receiptScope = source === 'twilio_callback' ? '' : `${source}:`;
    expect(await receipts.recordFirstDelivery(log.call_id as string, `${receiptScope}seq:${sequence}`, now)).toBe(true);
  }

  async function expectCompletedOnce(scheduleId: string, logId: string, duration: number): Promise<void> {
    const schedule = await getSchedule(scheduleId);
    expect(schedule).toMatchObject({ status: 'completed', last_call_status: 'completed', duration });
    expect(schedule.events.filter((e: { type: string }) => e.type === 'call_final')).toHaveLength(1);
    expect((await logs.findById(logId))?.outcome_recorded_at).toBeInstanceOf(Date);
    const active = (await http().get('/schedule/active?limit=500').set(owner).expect(200)).body.active_schedules;
    expect(active.filter((a: { schedule_id: string }) => a.schedule_id === scheduleId)).toHaveLength(0);
  }

  it('D3: a redelivered final callback whose receipt survived a cut-off delivery still completes the schedule', async () => {
    const { scheduleId, log } = await dispatchedCall();
    const sid = log.call_id as string;
    await cutOffAfterLogWrite(log, 'completed', 'completed', 3, 12);
    expect((await getSchedule(scheduleId)).status).toBe('running');

    const redelivered = await callback(log, params(sid, 'completed', 3, { CallDuration: '12' })).expect(200);
    expect(redelivered.body.outcome).toBe('applied');
    const again = await callback(log, params(sid, 'completed', 3, { CallDuration: '12' })).expect(200);
    expect(again.body.outcome).toBe('duplicate');

    await expectCompletedOnce(scheduleId, log.id, 12);
    expect((await logs.findById(log.id))?.timeline.filter((e) => e.source === 'twilio_callback')).toHaveLength(1);
    await waitFor(async () => eventsOfType('call.completed', { call_log_id: log.id }).length > 0, 5000, 20);
    // Both deliveries have been answered, and each queued its events before answering: all are out now.
    await afterQueuedPublications();
    expect(eventsOfType('call.completed', { call_log_id: log.id })).toHaveLength(1);
    expect(eventsOfType('schedule.completed', { schedule_id: scheduleId })).toHaveLength(1);
  });

  it('D3: the sweep completes a schedule whose final callback was cut off and never redelivered, once', async () => {
    const { scheduleId, log } = await dispatchedCall();
    await cutOffAfterLogWrite(log, 'completed', 'completed', 4, 21);

    // Within the grace the outcome may still be on its way: the sweep leaves it.
    await reconcile.handle();
    expect((await getSchedule(scheduleId)).status).toBe('running');

    clock.advance(PAST_GRACE_MS);
    const pass = await reconcile.handle();
    expect(pass.outcome).toMatch(/unrecorded_outcomes=1 /);
    await expectCompletedOnce(scheduleId, log.id, 21);
    await waitFor(async () => eventsOfType('call.completed', { call_log_id: log.id }).length > 0, 5000, 20);

    const second = await reconcile.handle();
    expect(second.outcome).toMatch(/unrecorded_outcomes=0 running_after_final=0/);
    // Both passes have returned, and a pass queues its events before it returns: all are out now.
    await afterQueuedPublications();
    await expectCompletedOnce(scheduleId, log.id, 21);
    expect(eventsOfType('call.completed', { call_log_id: log.id })).toHaveLength(1);
    expect(eventsOfType('schedule.completed', { schedule_id: scheduleId })).toHaveLength(1);
  });

  it('D3: the sweep completes a schedule whose final report from the simulator was cut off, as it does for a callback', async () => {
    const { scheduleId, log } = await dispatchedCall();
    await cutOffAfterLogWrite(log, 'completed', 'completed', 3, 42, 'simulator');
    clock.advance(PAST_GRACE_MS);
    expect((await reconcile.handle()).outcome).toMatch(/unrecorded_outcomes=1 /);
    await expectCompletedOnce(scheduleId, log.id, 42);
  });

  it('D4: the sweep completes a schedule that a racing pending -> running write put back after its outcome', async () => {
    const { scheduleId, log } = await dispatchedCall();
    const sid = log.call_id as string;
    expect((await callback(log, params(sid, 'completed', 2, { CallDuration: '8' })).expect(200)).body.outcome).toBe('applied');
    await expectCompletedOnce(scheduleId, log.id, 8);
    // The dispatcher's conditional write read pending before the outcome landed and wrote after it (here
    // past the log's grace, so that only the schedule's own last write holds the sweep back).
    clock.advance(PAST_GRACE_MS);
    expect(await schedules.recordCallProgress(scheduleId, null, { status: 'running', last_updated: clock.now() })).toBe(true);
    expect((await getSchedule(scheduleId)).status).toBe('running');
    // Within the grace after that write, the sweep does not look at it (nor at any call in flight).
    expect((await reconcile.handle()).outcome).toMatch(/running_after_final=0/);
    expect((await getSchedule(scheduleId)).status).toBe('running');

    clock.advance(PAST_GRACE_MS);
    const pass = await reconcile.handle();
    expect(pass.outcome).toMatch(/running_after_final=1/);
    expect((await getSchedule(scheduleId)).status).toBe('completed');
    await expectCompletedOnce(scheduleId, log.id, 8);
    // The callback was answered and the pass has returned; each queued its events before that: all are out now.
    await afterQueuedPublications();
    // Repaired, not replayed: no second call or schedule event to subscribers.
    expect(eventsOfType('call.completed', { call_log_id: log.id })).toHaveLength(1);
    expect(eventsOfType('schedule.completed', { schedule_id: scheduleId })).toHaveLength(1);
  });

  it('leaves a schedule alone whose latest attempt the dispatcher ended itself (deferred to calling hours)', async () => {
    const { scheduleId, log } = await dispatchedCall();
    const now = clock.now();
    const deferred = await logs.createForAttempt(
      logs.newId(),
      {
        tenant_id: log.tenant_id,
        created_by: log.created_by,
        user_profile_id: null,
        agent_instance_id: null,
        schedule_id: scheduleId,
        occurrence_at: log.occurrence_at,
        status: 'queued',
        call_type: 'outbound',
        phone: log.phone,
        timestamp: now,
        notes: null,
        metadata: {},
        attempt_number: 2,
        outcome_recorded_at: null,
      },
      now,
    );
    await logs.markAttemptEnded(deferred.id, 'canceled', { error_code: 'deferred_calling_hours', error_message: 'outside calling hours' }, now);
    expect(await schedules.recordCallProgress(scheduleId, null, { status: 'pending' })).toBe(true);

    clock.advance(PAST_GRACE_MS);
    await reconcile.handle();
    const schedule = await getSchedule(scheduleId);
    expect(schedule.status).toBe('pending');
    expect(schedule.events.filter((e: { type: string }) => e.type === 'call_final')).toHaveLength(0);
    // Marked, so that the scan for unrecorded outcomes does not keep meeting it.
    expect((await logs.findById(deferred.id))?.outcome_recorded_at).toBeInstanceOf(Date);
  });

  it('D4 with a retry policy: the repaired schedule waits for its one retry instead of staying running', async () => {
    const { scheduleId, log } = await dispatchedCall({ retry_policy: { max_attempts: 3, retry_on: ['busy'], delay_seconds: 3600, backoff: 'fixed' } });
    const sid = log.call_id as string;
    expect((await callback(log, params(sid, 'busy', 2)).expect(200)).body.outcome).toBe('applied');
    await waitFor(async () => (await getSchedule(scheduleId)).status === 'pending', 5000);
    expect(await schedules.recordCallProgress(scheduleId, null, { status: 'running' })).toBe(true);

    clock.advance(PAST_GRACE_MS);
    expect((await reconcile.handle()).outcome).toMatch(/running_after_final=1/);
    const schedule = await getSchedule(scheduleId);
    expect(schedule.status).toBe('pending');
    expect(schedule.events.filter((e: { type: string }) => e.type === 'retry_scheduled')).toHaveLength(1);
    expect(schedule.events.filter((e: { type: string }) => e.type === 'call_final')).toHaveLength(1);
    expect(await db.collection('agenda_jobs').countDocuments({ name: CALL_RETRY_JOB, 'data.schedule_id': scheduleId })).toBe(1);
  });

  describe('the notification of a final call, when a crash cuts off its outcome', () => {
    beforeAll(async () => {
      const res = await http().post('/notifications/subscriptions').set(owner).send({ url: hooks.url, events: ['call.completed', 'call.busy', 'schedule.completed'] }).expect(201);
      hooks.secret = res.body.subscription.secret;
    });

    const storedEvents = (logId: string) => db.collection('notification_events').find({ type: 'call.completed', 'data.call_log_id': logId }).toArray();
    const scheduleEnded = (scheduleId: string) => db.collection('notification_events').find({ type: 'schedule.completed', 'data.schedule_id': scheduleId }).toArray();
    const deliveriesOf = async (eventIds: string[]) =>
      (await http().get('/notifications/deliveries?limit=100').set(owner).expect(200)).body.deliveries.filter((d: { event_id: string }) => eventIds.includes(d.event_id));

    // The sweep's repair of the outcome is done; its notification is in the stream's history and has one delivery.
    async function expectNotifiedOnce(scheduleId: string, logId: string): Promise<void> {
      await expectCompletedOnce(scheduleId, logId, 30);
      const stored = await storedEvents(logId);
      expect(stored).toHaveLength(1);
      const [delivery, ...more] = await deliveriesOf([stored[0]._id.toHexString()]);
      expect(more).toHaveLength(0);
      await waitFor(async () => hooks.received.filter((r) => r.envelope.data.call_log_id === logId).length > 0, 10_000, 20);
      await waitFor(async () => (await deliveriesOf([delivery.event_id]))[0]?.status === 'delivered', 10_000, 20);
      // A second pass finds nothing to do, and the delivered record is never sent again.
      expect((await reconcile.handle()).outcome).toMatch(/unrecorded_outcomes=0 /);
      await afterQueuedPublications();
      expect(await storedEvents(logId)).toHaveLength(1);
      expect(await deliveriesOf([delivery.event_id])).toHaveLength(1);
      expect(hooks.received.filter((r) => r.envelope.data.call_log_id === logId)).toHaveLength(1);
      // The schedule's end is notified once too.
      const ended = await scheduleEnded(scheduleId);
      expect(ended).toHaveLength(1);
      expect(await deliveriesOf([ended[0]._id.toHexString()])).toHaveLength(1);
    }

    it('stored with its delivery before the crash: the sweep records the outcome and sends it, without a second event or delivery', async () => {
      const { scheduleId, log } = await dispatchedCall();
      await cutOffAfterLogWrite(log, 'completed', 'completed', 3, 30);
      // What the stopped process did after the log write: it stored the event and its delivery, then died
      // before marking the outcome recorded and publishing the event (which would have sent the delivery).
      const event = new CallChangedEvent('call.completed', log.id, scheduleId, log.tenant_id, log.phone, 'completed', log.call_id, log.attempt_number, clock.now().toISOString(), { duration: 30 });
      await t.get<DomainEventPublisher>(DomainEventPublisher).storeOnce(event, `call_final|${log.id}`);
      const [stored] = await storedEvents(log.id);
      expect(await deliveriesOf([stored._id.toHexString()])).toEqual([expect.objectContaining({ status: 'pending', attempt_count: 0 })]);
      expect((await logs.findById(log.id))?.outcome_recorded_at ?? null).toBeNull();

      clock.advance(PAST_GRACE_MS);
      expect((await reconcile.handle()).outcome).toMatch(/unrecorded_outcomes=1 /);
      await expectNotifiedOnce(scheduleId, log.id);
    });

    it('stopped between taking the event key and storing the event: the sweep stores it under the key\'s id, once', async () => {
      const { scheduleId, log } = await dispatchedCall();
      await cutOffAfterLogWrite(log, 'completed', 'completed', 3, 30);
      const eventId = new Types.ObjectId();
      await db.collection('notification_event_keys').insertOne({ _id: `call_final|${log.id}` as never, event_id: eventId, at: clock.now() });

      clock.advance(PAST_GRACE_MS);
      expect((await reconcile.handle()).outcome).toMatch(/unrecorded_outcomes=1 /);
      expect((await storedEvents(log.id)).map((e) => e._id.toHexString())).toEqual([eventId.toHexString()]);
      await expectNotifiedOnce(scheduleId, log.id);
    });

    it('the schedule ended before the crash, neither notification stored: the sweep stores each once', async () => {
      const { scheduleId, log } = await dispatchedCall();
      await cutOffAfterLogWrite(log, 'completed', 'completed', 3, 30);
      // The stopped process had moved the one-time schedule to its end.
      expect(await schedules.recordCallProgress(scheduleId, ['running'], { status: 'completed' })).toBe(true);
      expect(await scheduleEnded(scheduleId)).toHaveLength(0);

      clock.advance(PAST_GRACE_MS);
      expect((await reconcile.handle()).outcome).toMatch(/unrecorded_outcomes=1 /);
      await expectNotifiedOnce(scheduleId, log.id);
    });

    // Found by the reliability suite's crash scenario: the killed process had won the schedule's write gate
    // for its end and died before writing it. The redo read the schedule running, its own write waited for
    // the gate's takeover (which wrote the dead process's end), and its status move was then refused.
    it("the schedule's end left in its write gate by the killed process: the sweep's redo finishes it and stores its notification once", async () => {
      const { scheduleId, log } = await dispatchedCall();
      await cutOffAfterLogWrite(log, 'completed', 'completed', 3, 30);
      const stored = await db.collection('call_schedules').findOne({ _id: new Types.ObjectId(scheduleId) });
      expect(stored?.status).toBe('running');
      // Won by the killed process long enough ago (wall time) for a waiting writer to take it over.
      await db.collection('schedule_write_gates').insertOne({ _id: `${scheduleId}:${stored?.rev ?? 0}` as never, set: { status: 'completed' }, at: new Date(Date.now() - 20_000) });

      clock.advance(PAST_GRACE_MS);
      expect((await reconcile.handle()).outcome).toMatch(/unrecorded_outcomes=1 /);
      await expectNotifiedOnce(scheduleId, log.id);
    });

    it('superseded by its retry before the crash reached its notification: the sweep stores that once and marks it', async () => {
      const { scheduleId, log } = await dispatchedCall({ retry_policy: { max_attempts: 3, retry_on: ['busy'], delay_seconds: 3600, backoff: 'fixed' } });
      await cutOffAfterLogWrite(log, 'busy', 'busy', 3, 0);
      // The stopped process had scheduled the retry, which has since started its own attempt.
      const now = clock.now();
      await logs.createForAttempt(
        logs.newId(),
        { tenant_id: log.tenant_id, created_by: log.created_by, user_profile_id: null, agent_instance_id: null, schedule_id: scheduleId, occurrence_at: log.occurrence_at, status: 'queued', call_type: 'outbound', phone: log.phone, timestamp: now, notes: null, metadata: {}, attempt_number: 2, outcome_recorded_at: null },
        now,
      );
      const busyEvents = () => db.collection('notification_events').find({ type: 'call.busy', 'data.call_log_id': log.id }).toArray();

      clock.advance(PAST_GRACE_MS);
      await reconcile.handle();
      expect((await logs.findById(log.id))?.outcome_recorded_at).toBeInstanceOf(Date);
      const stored = await busyEvents();
      expect(stored).toHaveLength(1);
      expect(await deliveriesOf([stored[0]._id.toHexString()])).toHaveLength(1);
      await waitFor(async () => eventsOfType('call.busy', { call_log_id: log.id }).length > 0, 5000, 20);

      await reconcile.handle();
      await afterQueuedPublications();
      expect(await busyEvents()).toHaveLength(1);
      expect(eventsOfType('call.busy', { call_log_id: log.id })).toHaveLength(1);
    });

    it('never stored: the sweep stores and delivers it', async () => {
      const { scheduleId, log } = await dispatchedCall();
      await cutOffAfterLogWrite(log, 'completed', 'completed', 3, 30);
      expect(await storedEvents(log.id)).toHaveLength(0);

      clock.advance(PAST_GRACE_MS);
      expect((await reconcile.handle()).outcome).toMatch(/unrecorded_outcomes=1 /);
      await expectNotifiedOnce(scheduleId, log.id);
    });
  });
  // Nothing redoes a progress report (ringing, answered) once its entry is in the log's timeline: a
  // redelivery is a duplicate then. So its event is stored before that write.
  it('a ringing callback cut off right after its log write has its call.ringing stored already; the redelivery stores none again', async () => {
    const { log } = await dispatchedCall();
    const ringing = () => db.collection('notification_events').find({ type: 'call.ringing', 'data.call_log_id': log.id }).toArray();
    const write = logs.applyStatusEvent.bind(logs);
    // The process stops right after the log write (fault injection at the repository boundary).
    const stop = jest.spyOn(logs, 'applyStatusEvent').mockImplementationOnce(async (...args) => {
      await write(...args);
      throw new Error('process stopped');
    });
    await callback(log, params(log.call_id as string, 'ringing', 1)).expect(500);
    stop.mockRestore();
    expect((await logs.findById(log.id))?.status).toBe('ringing');
    const [stored, ...more] = await ringing();
    expect(more).toHaveLength(0);
    expect(stored.data).toMatchObject({ call_log_id: log.id, status: 'ringing', call_id: log.call_id });

    await callback(log, params(log.call_id as string, 'ringing', 1)).expect(200);
    await afterQueuedPublications();
    expect((await ringing()).map((e) => e._id.toHexString())).toEqual([stored._id.toHexString()]);
  });

  it('a ringing callback cut off between storing its event and its log write: the redelivery writes the log and stores the event no second time', async () => {
    const { log } = await dispatchedCall();
    const ringing = () => db.collection('notification_events').find({ type: 'call.ringing', 'data.call_log_id': log.id }).toArray();
    // The process stops where the log write would start.
    const stop = jest.spyOn(logs, 'applyStatusEvent').mockRejectedValueOnce(new Error('process stopped'));
    await callback(log, params(log.call_id as string, 'ringing', 1)).expect(500);
    stop.mockRestore();
    expect((await logs.findById(log.id))?.status).toBe('queued');
    const [stored, ...more] = await ringing();
    expect(more).toHaveLength(0);

    await callback(log, params(log.call_id as string, 'ringing', 1)).expect(200);
    expect((await logs.findById(log.id))?.status).toBe('ringing');
    await waitFor(async () => eventsOfType('call.ringing', { call_log_id: log.id }).length === 1, 5000, 20);
    await afterQueuedPublications();
    expect((await ringing()).map((e) => e._id.toHexString())).toEqual([stored._id.toHexString()]);
    expect(eventsOfType('call.ringing', { call_log_id: log.id })).toHaveLength(1);
  });

  it('an answered callback stores call.answered once and publishes it; a redelivery adds nothing', async () => {
    const { log } = await dispatchedCall();
    const answered = () => db.collection('notification_events').find({ type: 'call.answered', 'data.call_log_id': log.id }).toArray();
    await callback(log, params(log.call_id as string, 'in-progress', 2)).expect(200);
    await waitFor(async () => eventsOfType('call.answered', { call_log_id: log.id }).length === 1, 5000, 20);
    await callback(log, params(log.call_id as string, 'in-progress', 2)).expect(200);
    await afterQueuedPublications();
    expect(await answered()).toHaveLength(1);
    expect(eventsOfType('call.answered', { call_log_id: log.id })).toHaveLength(1);
  });
});
