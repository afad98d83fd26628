import request from 'supertest';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { Clock } from '../../src/common/clock/clock';
import { CallReconcileJob } from '../../src/status-update/call-reconcile.job';
import { CallChangedEvent } from '../../src/notification/domain-events';
import { CallRetryJob } from '../../src/schedule/dispatch/call-retry.job';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { CALL_RETRY_JOB } from '../../src/schedule/schedule.constants';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { FakeTwilioServer } from '../fakes/fake-twilio.server';
import { throughFakeTwilio, TWILIO_TEST_FROM, twilioTestEnv } from '../utils/fake-twilio-app';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { postTwilioCallback } from '../utils/twilio-callbacks';
import { waitFor } from '../utils/wait';

const SID = `AC${'0123456789abcdef'.repeat(2)}`;
const TOKEN = 'fake-twilio-auth-token-0123456789';
const PUBLIC = 'https://calls.example.com';
const FROM = TWILIO_TEST_FROM;
const ALT_FROM = '+15005550007';

const twilioEnv = (extra: Record<string, string> = {}) =>
  twilioTestEnv({ sid: SID, token: TOKEN, publicBaseUrl: PUBLIC }, { TWILIO_FROM_NUMBERS: ALT_FROM, PROVIDER_RETRY_BASE_MS: '20', UNKNOWN_LOOKUP_DELAY_MS: '50', ...extra });

async function twilioApp(fake: FakeTwilioServer, extra: Record<string, string> = {}, clock = new TestClock()): Promise<TestApp> {
  const config = testConfig(twilioEnv(extra));
  return createTestApp({
    config,
    override: (b) => throughFakeTwilio(config, fake.url)(b.overrideProvider(Clock).useValue(clock)),
  });
}

describe('outbound calls through Twilio (fake Twilio over HTTP)', () => {
  const fake = new FakeTwilioServer(SID, TOKEN);
  const auth = bearer(tokenFor('tw-user'));
  let t: TestApp;
  const clock = new TestClock();
  let phoneSeq = 0;
  const nextPhone = () => `+1415555${String(3000 + phoneSeq++).padStart(4, '0')}`;

  beforeAll(async () => {
    await fake.start();
    t = await twilioApp(fake, {}, clock);
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  const http = () => request(t.app.getHttpServer());
  async function scheduleCall(phone: string, extra: Record<string, unknown> = {}, leadMs = 1200): Promise<{ id: string; due: Date }> {
    const due = new Date(Date.now() + leadMs);
    const res = await http().post('/schedule/').set(auth).send({ phone, scheduled_time: due.toISOString(), ...extra }).expect(200);
    return { id: res.body.schedule_id as string, due };
  }
  const getSchedule = async (id: string) => (await http().get(`/schedule/${id}`).set(auth).expect(200)).body.schedule;
  const logsFor = (id: string) => t.get<CallLogRepository>(CallLogRepository).findForSchedule(id);
  // What would send a schedule's calls.create again: another dispatch of it (a sweep, a second timer).
  const dispatchAgain = (id: string) => t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id);

  it('a schedule made through the API produces exactly one correct calls.create request at its due time', async () => {
    const phone = nextPhone();
    const { id, due } = await scheduleCall(phone, { provider_options: { timeout: 25, machine_detection: 'Enable' } });
    const [sent] = await waitFor(async () => (fake.createRequestsTo(phone).length > 0 ? fake.createRequestsTo(phone) : null), 15_000);
    expect(sent.at).toBeGreaterThanOrEqual(due.getTime() - 250);
    const [log] = await waitFor(async () => {
      const logs = await logsFor(id);
      return logs.length === 1 && logs[0].call_id ? logs : null;
    }, 10_000);
    expect(sent.params).toEqual({
      To: phone,
      From: FROM,
      Url: `${PUBLIC}/webhook/twiml/${log.id}`,
      Method: 'POST',
      StatusCallback: `${PUBLIC}/webhook/call-status?call_log_id=${log.id}`,
      StatusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      StatusCallbackMethod: 'POST',
      Timeout: '25',
      MachineDetection: 'Enable',
    });
    const created = fake.calls.find((c) => c.to === phone)!;
    expect(log).toMatchObject({ call_id: created.sid, provider: 'twilio', status: 'queued', attempt_number: 1 });
    const [claim] = await t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).findForSchedule(id, 5);
    // The claim names the log, and the log the call.
    expect(claim).toMatchObject({ state: 'dialed', call_log_id: log.id, provider: 'twilio' });
    // The claim is marked dialed after the provider call returned, its own retries included; another
    // dispatch made now finds nothing left to dial.
    expect((await dispatchAgain(id)).outcome).toBe('inactive');
    expect(fake.createRequestsTo(phone)).toHaveLength(1);
    expect(fake.authFailures).toHaveLength(0);
  });

  it('uses an allow-listed per-schedule from number and refuses any other', async () => {
    await http().post('/schedule/').set(auth).send({ phone: nextPhone(), scheduled_time: new Date(Date.now() + 60_000).toISOString(), provider_options: { from: '+15005550999' } })
      .expect(400)
      .expect((res) => expect(res.body).toMatchObject({ error_code: 'SCHEDULE_014', details: { field: 'provider_options.from' } }));
    const phone = nextPhone();
    await scheduleCall(phone, { provider_options: { from: ALT_FROM, twiml: '<Response><Say>Hi</Say></Response>' } });
    const [sent] = await waitFor(async () => (fake.createRequestsTo(phone).length > 0 ? fake.createRequestsTo(phone) : null), 15_000);
    expect(sent.params.From).toBe(ALT_FROM);
    expect(sent.params.Twiml).toBe('<Response><Say>Hi</Say></Response>');
    expect(sent.params.Url).toBeUndefined();
  });

  it('passes further calls.create parameters from provider_options to Twilio, by their Twilio names', async () => {
    const phone = nextPhone();
    await scheduleCall(phone, {
      provider_options: {
        url: 'https://crm.example.com/twiml',
        method: 'GET',
        record: true,
        recording_channels: 'dual',
        recording_status_callback: 'https://crm.example.com/recordings',
        recording_status_callback_event: ['completed', 'absent'],
        send_digits: 'ww1234#',
        caller_id: 'Acme',
        machine_detection: 'DetectMessageEnd',
        machine_detection_timeout: 12,
      },
    });
    const [sent] = await waitFor(async () => (fake.createRequestsTo(phone).length > 0 ? fake.createRequestsTo(phone) : null), 15_000);
    expect(sent.params).toMatchObject({
      Url: 'https://crm.example.com/twiml',
      Method: 'GET',
      Record: 'true',
      RecordingChannels: 'dual',
      RecordingStatusCallback: 'https://crm.example.com/recordings',
      RecordingStatusCallbackEvent: ['completed', 'absent'],
      SendDigits: 'ww1234#',
      CallerId: 'Acme',
      MachineDetection: 'DetectMessageEnd',
      MachineDetectionTimeout: '12',
      StatusCallback: expect.stringMatching(new RegExp(`^${PUBLIC}/webhook/call-status\\?call_log_id=`)),
    });

    const app = nextPhone();
    await scheduleCall(app, { provider_options: { application_sid: `AP${'a'.repeat(32)}` } });
    const [byApp] = await waitFor(async () => (fake.createRequestsTo(app).length > 0 ? fake.createRequestsTo(app) : null), 15_000);
    expect(byApp.params.ApplicationSid).toBe(`AP${'a'.repeat(32)}`);
    expect(byApp.params.Url).toBeUndefined();
    expect(byApp.params.Twiml).toBeUndefined();
  });

  it('refuses a provider_options key that neither the service nor calls.create reads, naming it, and writes nothing', async () => {
    const phone = nextPhone();
    const refused = async (options: Record<string, unknown>, field: string, issue: RegExp) => {
      const res = await http().post('/schedule/').set(auth).send({ phone, scheduled_time: new Date(Date.now() + 60_000).toISOString(), provider_options: options }).expect(400);
      expect(res.body).toMatchObject({ status: 'error', error_code: 'SCHEDULE_014', details: { field, issue: expect.stringMatching(issue) } });
    };
    await refused({ timeout: 25, recordd: true }, 'provider_options.recordd', /unknown key recordd/);
    await refused({ statusCallback: 'https://crm.example.com/x' }, 'provider_options.statusCallback', /unknown key statusCallback/);
    await refused({ status_callback: 'https://crm.example.com/x' }, 'provider_options.status_callback', /set by the service/);
    await refused({ to: '+14155550000' }, 'provider_options.to', /set by the service/);
    await refused({ record: { nested: true } }, 'provider_options.record', /string, number, boolean or list of strings/);
    await refused({ fallback_url: 'ftp://crm.example.com' }, 'provider_options.fallback_url', /http/);
    await refused({ application_sid: `AP${'a'.repeat(32)}`, twiml: '<Response/>' }, 'provider_options.application_sid', /not both/);
    const listed = await http().get(`/schedule?phone=${encodeURIComponent(phone)}`).set(auth).expect(200);
    expect(listed.body.total).toBe(0);
    expect(fake.createRequestsTo(phone)).toHaveLength(0);
  });

  it('429 twice, then success: one call, after three requests', async () => {
    const phone = nextPhone();
    fake.respondWith({ kind: 'status', status: 429, code: 20429, message: 'Too Many Requests' }, { kind: 'status', status: 429, code: 20429, message: 'Too Many Requests' });
    const { id } = await scheduleCall(phone);
    const [log] = await waitFor(async () => {
      const logs = await logsFor(id);
      return logs.length === 1 && logs[0].call_id ? logs : null;
    }, 15_000);
    expect(fake.createRequestsTo(phone)).toHaveLength(3);
    expect(fake.calls.filter((c) => c.to === phone)).toHaveLength(1);
    expect(log.call_id).toBe(fake.calls.find((c) => c.to === phone)!.sid);
  });

  it('a permanent 4xx (21211) fails the attempt at once with the provider code, and retries nothing', async () => {
    const phone = nextPhone();
    fake.respondWith({ kind: 'status', status: 400, code: 21211, message: "The 'To' number is not a valid phone number." });
    const { id } = await scheduleCall(phone);
    // The schedule, its log and its event are separate writes: wait until all three have landed.
    const s = await waitFor(async () => {
      const current = await getSchedule(id);
      const [failedLog] = await logsFor(id);
      const settled = current.status === 'failed' && failedLog?.status === 'failed' && current.events.some((e: { type: string }) => e.type === 'dispatch_failed');
      return settled ? current : null;
    }, 15_000);
    const [log] = await logsFor(id);
    expect(log).toMatchObject({ status: 'failed', error_code: '21211', error_message: "The 'To' number is not a valid phone number.", call_id: null });
    expect(s.last_call_status).toBe('failed');
    // The refusal is recorded after the provider call returned, its own retries included; another
    // dispatch made now finds the schedule ended.
    expect((await dispatchAgain(id)).outcome).toBe('inactive');
    expect(fake.createRequestsTo(phone)).toHaveLength(1);
  });

  it('a connection reset after the request was sent: unknown, reconciled by lookup, never dialed twice', async () => {
    const phone = nextPhone();
    fake.respondWith({ kind: 'drop' });
    const { id } = await scheduleCall(phone);
    const [log] = await waitFor(async () => {
      const logs = await logsFor(id);
      return logs.length === 1 && logs[0].call_id ? logs : null;
    }, 15_000);
    const created = fake.calls.filter((c) => c.to === phone);
    expect(created).toHaveLength(1);
    expect(log.call_id).toBe(created[0].sid);
    // The call id reaches the log before the dispatcher records its event: wait for the event.
    const dispatched = await waitFor(async () => (await getSchedule(id)).events.find((e: { type: string }) => e.type === 'dispatched'), 15_000);
    expect(dispatched.data.reconciled).toBe(true);
    // The event is recorded after the provider call and its lookup returned; another dispatch made now
    // finds nothing left to dial.
    expect((await dispatchAgain(id)).outcome).toBe('inactive');
    expect(fake.createRequestsTo(phone)).toHaveLength(1);
  });

  it('a reset whose call a status callback attaches to the log before the lookup: still placed, not refused', async () => {
    // The lookup waits long enough for Twilio's first callback, which names this attempt's log, to land first:
    // the test posts it as soon as it sees the log, which on a loaded 2-core machine took over 2 s.
    const slow = await twilioApp(fake, { UNKNOWN_LOOKUP_DELAY_MS: '8000' });
    try {
      const phone = nextPhone();
      fake.respondWith({ kind: 'drop' });
      const due = new Date(Date.now() + 1200);
      const res = await request(slow.app.getHttpServer()).post('/schedule/').set(auth).send({ phone, scheduled_time: due.toISOString() }).expect(200);
      const id = res.body.schedule_id as string;
      const call = await waitFor(async () => fake.calls.find((c) => c.to === phone) ?? null, 15_000);
      const [log] = await waitFor(async () => {
        const logs = await slow.get<CallLogRepository>(CallLogRepository).findForSchedule(id);
        return logs.length === 1 ? logs : null;
      }, 15_000);
      const callback = await postTwilioCallback(slow.app.getHttpServer(), PUBLIC, TOKEN, `/webhook/call-status?call_log_id=${log.id}`, {
        AccountSid: SID,
        CallSid: call.sid,
        CallStatus: 'ringing',
      });
      expect(callback.status).toBe(200);
      expect((await slow.get<CallLogRepository>(CallLogRepository).findByCallId(call.sid))?.id).toBe(log.id);
      const claim = await waitFor(async () => {
        const [c] = await slow.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).findForSchedule(id, 5);
        return c && c.state !== 'claimed' && c.state !== 'dialing' ? c : null;
      }, 15_000);
      expect(claim.state).toBe('dialed');
      expect(claim.call_log_id).toBe(log.id);
      expect(fake.createRequestsTo(phone)).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });

  it('retry_policy on busy: a second attempt after the delay, and no third when max_attempts is 2', async () => {
    const phone = nextPhone();
    const { id } = await scheduleCall(phone, { retry_policy: { max_attempts: 2, retry_on: ['busy', 'no-answer'], delay_seconds: 1, backoff: 'fixed' } });
    const busy = async (attempt: number) => {
      const log = await waitFor(async () => (await logsFor(id)).find((l) => l.attempt_number === attempt && l.call_id), 20_000);
      // Taken before the callback is sent: the retry delay runs from when the service handles it, never earlier.
      const sentAt = Date.now();
      const res = await postTwilioCallback(t.app.getHttpServer(), PUBLIC, TOKEN, `/webhook/call-status?call_log_id=${log.id}`, {
        AccountSid: SID,
        CallSid: log.call_id!,
        CallStatus: 'busy',
        SequenceNumber: '2',
        CallDuration: '0',
        SipResponseCode: '486',
      });
      expect(res.status).toBe(200);
      return sentAt;
    };
    const firstBusyAt = await busy(1);
    await waitFor(async () => fake.createRequestsTo(phone).length === 2, 20_000);
    expect(fake.createRequestsTo(phone)[1].at - firstBusyAt).toBeGreaterThanOrEqual(900);
    const types = await waitFor(async () => {
      const seen = (await getSchedule(id)).events.map((e: { type: string }) => e.type);
      return seen.includes('retry_scheduled') && seen.includes('retry_attempt') ? seen : null;
    }, 15_000);
    expect(types).toEqual(expect.arrayContaining(['retry_scheduled', 'retry_attempt']));
    await busy(2);
    const done = await waitFor(async () => {
      const s = await getSchedule(id);
      return s.status === 'failed' ? s : null;
    }, 10_000);
    expect(done.last_call_status).toBe('busy');
    // A third attempt would be a call.retry job, created before the second busy callback was answered:
    // only attempt 2's was ever queued, and the retry path driven for attempt 3 now dials nothing.
    const db = t.get<Connection>(getConnectionToken());
    const retryJobs = await db.collection('agenda_jobs').find({ name: CALL_RETRY_JOB, 'data.schedule_id': id }).toArray();
    expect(retryJobs.map((j) => j.data.attempt_number)).toEqual([2]);
    const occurrenceAt = (await logsFor(id))[0].occurrence_at!.toISOString();
    expect((await t.get<CallRetryJob>(CallRetryJob).handle({ schedule_id: id, occurrence_at: occurrenceAt, attempt_number: 3 })).outcome).toBe('inactive');
    expect(fake.createRequestsTo(phone)).toHaveLength(2);
    expect((await logsFor(id)).map((l) => l.attempt_number)).toEqual([1, 2]);
  });

  it('a call whose callbacks never arrive is fetched from Twilio after CALL_RECONCILE_AFTER_MINUTES and ends final', async () => {
    const phone = nextPhone();
    const { id } = await scheduleCall(phone);
    const log = await waitFor(async () => (await logsFor(id)).find((l) => l.call_id), 15_000);
    const job = t.get<CallReconcileJob>(CallReconcileJob);
    fake.finish(log.call_id!, 'completed', 37);
    // Not stale yet: nothing is asked of Twilio.
    await job.handle();
    expect((await logsFor(id))[0].status).toBe('queued');
    clock.advance((t.config.callReconcileAfterMinutes + 1) * 60_000);
    try {
      expect((await job.handle()).outcome).toMatch(/applied=1$/);
    } finally {
      clock.set(new Date());
    }
    const [done] = await logsFor(id);
    expect(done).toMatchObject({ status: 'completed', duration: 37 });
    expect(done.timeline.map((e) => e.source)).toContain('provider_lookup');
    expect((await getSchedule(id)).status).toBe('completed');
    expect((await job.handle()).outcome).toMatch(/applied=0/);
  });

  it('serves signed TwiML for the answered call and refuses an unsigned fetch', async () => {
    const phone = nextPhone();
    const { id } = await scheduleCall(phone, { provider_options: { say: { text: 'Your appointment is tomorrow at 10.', voice: 'alice', language: 'en-US' } } });
    const log = await waitFor(async () => (await logsFor(id)).find((l) => l.call_id), 15_000);
    const path = `/webhook/twiml/${log.id}`;
    const res = await postTwilioCallback(t.app.getHttpServer(), PUBLIC, TOKEN, path, { AccountSid: SID, CallSid: log.call_id!, CallStatus: 'in-progress' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(res.text).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="alice" language="en-US">Your appointment is tomorrow at 10.</Say></Response>');
    const forged = await request(t.app.getHttpServer()).post(path).type('form').set('X-Twilio-Signature', 'forged').send({ CallSid: log.call_id! });
    expect(forged.status).toBe(403);
    expect(forged.body.error_code).toBe('WEBHOOK_001');
  });
});

describe('TwiML hand-off to a voice agent, and safe mode', () => {
  const fake = new FakeTwilioServer(SID, TOKEN);
  const auth = bearer(tokenFor('safe-user'));
  const allowed = '+14155550100';
  let t: TestApp;
  const events: CallChangedEvent[] = [];

  beforeAll(async () => {
    await fake.start();
    t = await twilioApp(fake, { SAFE_MODE_ALLOWED_NUMBERS: `${allowed}, +14155550101`, VOICE_AGENT_STREAM_URL: 'wss://agent.example.com/stream' });
    t.get<EventEmitter2>(EventEmitter2).on('call.*', (e: CallChangedEvent) => void events.push(e));
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  it('safe mode skips every other number: an event is recorded and nothing is dialed', async () => {
    const due = new Date(Date.now() + 1000);
    const blocked = await request(t.app.getHttpServer()).post('/schedule/').set(auth).send({ phone: '+14155550199', scheduled_time: due.toISOString() }).expect(200);
    const ok = await request(t.app.getHttpServer()).post('/schedule/').set(auth).send({ phone: allowed, scheduled_time: due.toISOString(), metadata: { order: 42 } }).expect(200);
    await waitFor(async () => fake.createRequestsTo(allowed).length === 1, 15_000);
    const s = await waitFor(async () => {
      const res = await request(t.app.getHttpServer()).get(`/schedule/${blocked.body.schedule_id}`).set(auth).expect(200);
      // The history entry, the schedule's end and the call event are separate steps, the event (stored,
      // then published) last: wait for all three.
      const published = events.some((e) => e.type === 'call.skipped' && e.schedule_id === blocked.body.schedule_id);
      const settled = published && res.body.schedule.status === 'completed' && res.body.schedule.events.some((e: { type: string }) => e.type === 'skipped_safe_mode');
      return settled ? res.body.schedule : null;
    }, 10_000);
    expect(s).toMatchObject({ status: 'completed', last_call_status: 'skipped_safe_mode' });
    expect(fake.createRequestsTo('+14155550199')).toHaveLength(0);
    expect(await t.get<CallLogRepository>(CallLogRepository).findForSchedule(blocked.body.schedule_id)).toHaveLength(0);
    expect(events.find((e) => e.type === 'call.skipped' && e.schedule_id === blocked.body.schedule_id)).toMatchObject({ data: { reason: 'safe_mode' } });

    // The allowed call's TwiML hands it to the configured voice-agent stream with its context.
    const [log] = await t.get<CallLogRepository>(CallLogRepository).findForSchedule(ok.body.schedule_id);
    const twiml = await postTwilioCallback(t.app.getHttpServer(), PUBLIC, TOKEN, `/webhook/twiml/${log.id}`, { AccountSid: SID, CallSid: 'CA' + 'f'.repeat(32) });
    expect(twiml.status).toBe(200);
    expect(twiml.text).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://agent.example.com/stream">' +
        `<Parameter name="call_log_id" value="${log.id}"/>` +
        `<Parameter name="schedule_id" value="${ok.body.schedule_id}"/>` +
        '<Parameter name="agent_instance_id" value=""/>' +
        '<Parameter name="tenant_id" value="safe-user"/>' +
        '<Parameter name="attempt_number" value="1"/>' +
        '<Parameter name="metadata" value="{&quot;order&quot;:42}"/>' +
        '</Stream></Connect></Response>',
    );
  });
});
