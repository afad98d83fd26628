import { EventEmitter2 } from '@nestjs/event-emitter';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { signAgentBackendCallback } from '../../src/calls/agent-backend-signature';
import { AGENT_BACKEND_CALLBACK_PATH } from '../../src/calls/webhook-paths';
import { ScheduleChangedEvent } from '../../src/notification/domain-events';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { CallLog } from '../../src/tracking/call-log.types';
import { FakeAgentBackendServer } from '../fakes/fake-agent-backend.server';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig } from '../utils/test-config';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const TOKEN = 'internal-backend-token-outcomes-0123456789';
const ALL_DAY = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [] };

// Seed 000's semantics: a call the agent backend accepted is handed to its agent and the attempt ends
// completed; a refusal ends it failed with last_error; what the backend reports later lands on the log.
describe('agent backend: attempts end with the hand-off (fake backend over HTTP)', () => {
  const backend = new FakeAgentBackendServer(TOKEN);
  const auth = bearer(tokenFor('agent-outcomes'));
  const scheduleEvents: ScheduleChangedEvent[] = [];
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    await backend.start();
    t = await createTestApp({
      config: testConfig({
        CALL_PROVIDER: 'agent_backend',
        DEFAULT_BACKEND_BASE_URL: backend.url,
        BACKEND_INTERNAL_TOKEN: TOKEN,
        PUBLIC_BASE_URL: 'https://scheduler.example.test',
        // Provider seats must come back with each hand-off, or the campaign below stalls after two calls.
        MAX_CONCURRENT_CALLS: '2',
      }),
    });
    t.get<EventEmitter2>(EventEmitter2).on('schedule.*', (e: ScheduleChangedEvent) => scheduleEvents.push(e));
  });
  afterAll(async () => {
    await t.close();
    await backend.stop();
  });

  const schedule = async (phone: string, providerOptions: Record<string, unknown>): Promise<string> =>
    (await http().post('/schedule/').set(auth).send({ phone, scheduled_time: new Date(Date.now() + 1000).toISOString(), provider_options: providerOptions }).expect(200)).body.schedule_id;
  const ended = (id: string) =>
    waitFor(async () => {
      const s = (await http().get(`/schedule/${id}`).set(auth).expect(200)).body.schedule;
      return ['completed', 'failed'].includes(s.status) ? s : null;
    }, 20_000);
  const logsOf = (id: string) => t.get<CallLogRepository>(CallLogRepository).findForSchedule(id);

  it('DIRECT: an accepted /call/start ends the schedule completed with the backend call id, and frees the seat', async () => {
    const id = await schedule('+61731824591', {
      mode: 'DIRECT',
      agent_type: 'STOCK_CHECKER',
      conversation_id: 'outcome-direct',
      payload: { placeId: 'ChIJ-direct', scriptPreview: 'Hello, do you have BBQ chickens today?', slots: { product: 'BBQ Chicken' } },
    });
    const s = await ended(id);
    const [start] = backend.requests.filter((r) => r.path === '/call/start' && r.body.conversationId === 'outcome-direct');
    expect(start.body.callId).toBeUndefined();
    const callId = (await waitFor(async () => (await logsOf(id)).find((l) => l.status === 'completed'), 10_000)).call_id;
    expect(s).toMatchObject({ status: 'completed', last_call_status: 'completed', last_error: null, call_id: callId });
    expect(callId).toMatch(/^CA[0-9a-f]{32}$/);
    expect(s.events.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['dispatched', 'call_final']));
    // The backend was given a signed-callback URL naming this attempt's log.
    const [log] = await logsOf(id);
    expect(start.body.callbackUrl).toBe(`https://scheduler.example.test${AGENT_BACKEND_CALLBACK_PATH}?call_log_id=${log.id}`);
    expect(log.timeline.map((e) => `${e.source}:${e.status}`)).toEqual(['dispatcher:queued', 'provider_accepted:queued', 'agent_backend_handoff:completed']);
    await waitFor(async () => scheduleEvents.find((e) => e.type === 'schedule.completed' && e.schedule_id === id), 5_000);
    expect(await t.get<Connection>(getConnectionToken()).collection('call_leases').countDocuments({ call_log_id: log.id })).toBe(0);
  });

  it('BRIEF_START: the script comes from /call/brief, and the accepted start ends the schedule completed', async () => {
    const id = await schedule('+61731824592', {
      mode: 'BRIEF_START',
      conversation_id: 'outcome-brief',
      payload: { place: { placeId: 'ChIJ-brief2', businessName: 'Red Rooster' }, slots: { product: 'BBQ Chicken' } },
    });
    const s = await ended(id);
    expect(backend.requests.filter((r) => r.body.conversationId === 'outcome-brief').map((r) => r.path)).toEqual(['/call/brief', '/call/start']);
    expect(s).toMatchObject({ status: 'completed', last_error: null, call_id: expect.stringMatching(/^CA[0-9a-f]{32}$/) });
  });

  it('a refused /call/start ends the schedule failed, with last_error and schedule.failed', async () => {
    backend.refusePhones.add('+61731824593');
    const id = await schedule('+61731824593', { mode: 'DIRECT', conversation_id: 'outcome-refused', payload: { scriptPreview: 'Hello' } });
    const s = await ended(id);
    expect(s).toMatchObject({ status: 'failed', last_call_status: 'failed', call_id: null, last_error: '400: cannot call +61731824593: number not reachable' });
    const [log] = await logsOf(id);
    expect(log).toMatchObject({ status: 'failed', error_code: '400', error_message: 'cannot call +61731824593: number not reachable' });
    const failed = await waitFor(async () => scheduleEvents.find((e) => e.type === 'schedule.failed' && e.schedule_id === id), 5_000);
    expect(failed).toMatchObject({ status: 'failed', data: { last_error: '400: cannot call +61731824593: number not reachable' } });
  });

  it('a signed outcome the backend reports later lands on the log; a bad signature is refused', async () => {
    const id = await schedule('+61731824594', { mode: 'DIRECT', conversation_id: 'outcome-callback', payload: { scriptPreview: 'Hello' } });
    await ended(id);
    const [start] = backend.requests.filter((r) => r.body.conversationId === 'outcome-callback' && r.path === '/call/start');
    const callbackUrl = String(start.body.callbackUrl);
    const path = callbackUrl.slice('https://scheduler.example.test'.length);
    const [placed] = await logsOf(id);
    const body = JSON.stringify({ callId: placed.call_id, status: 'NO_ANSWER', durationSeconds: 31, error: 'nobody picked up' });
    const post = (signature: string, payload = body) => http().post(path).set('content-type', 'application/json').set('x-agent-backend-signature', signature).send(payload);

    const forged = await post(signAgentBackendCallback('not-the-token', callbackUrl, body)).expect(403);
    expect(forged.body).toMatchObject({ status: 'error', error_code: 'WEBHOOK_001', details: { field: 'X-Agent-Backend-Signature' } });
    const tampered = await post(signAgentBackendCallback(TOKEN, callbackUrl, body), body.replace('31', '32')).expect(403);
    expect(tampered.body.error_code).toBe('WEBHOOK_001');
    const badStatus = JSON.stringify({ callId: placed.call_id, status: 'EXPLODED' });
    const invalid = await post(signAgentBackendCallback(TOKEN, callbackUrl, badStatus), badStatus).expect(400);
    expect(invalid.body).toMatchObject({ status: 'error', error_code: 'VALIDATION_001', details: { field: 'status' } });
    expect((await logsOf(id))[0].timeline).toHaveLength(3);

    expect((await post(signAgentBackendCallback(TOKEN, callbackUrl, body)).expect(200)).body).toEqual({ status: 'success', outcome: 'applied' });
    expect((await post(signAgentBackendCallback(TOKEN, callbackUrl, body)).expect(200)).body).toEqual({ status: 'success', outcome: 'duplicate' });
    const [log]: CallLog[] = await logsOf(id);
    // The attempt stays completed (the hand-off ended it); the backend's report is recorded with it.
    expect(log).toMatchObject({ status: 'completed', duration: 31, error_message: 'nobody picked up' });
    expect(log.timeline.map((e) => `${e.source}:${e.status}:${e.provider_status}`)).toEqual([
      'dispatcher:queued:null',
      'provider_accepted:queued:null',
      'agent_backend_handoff:completed:completed',
      'agent_backend_callback:no_answer:no-answer',
    ]);
    expect((await http().get(`/schedule/${id}`).set(auth).expect(200)).body.schedule.status).toBe('completed');
  });

  it('a call that ends busy (simulated provider, its signed callbacks) fails the schedule with last_error and schedule.failed', async () => {
    const id = await schedule('+61731824595', { provider: 'simulated', simulate_outcome: 'busy' });
    const s = await ended(id);
    expect(s).toMatchObject({ status: 'failed', last_call_status: 'busy', last_error: 'Call ended busy: SIP 486' });
    const failed = await waitFor(async () => scheduleEvents.find((e) => e.type === 'schedule.failed' && e.schedule_id === id), 5_000);
    expect(failed.data).toEqual({ last_error: 'Call ended busy: SIP 486', last_call_status: 'busy' });
  });

  it('a campaign of 20 contacts with max_concurrent_calls 2 finishes on the agent backend', async () => {
    const campaign = (
      await http()
        .post('/campaigns')
        .set(auth)
        .send({ name: 'Agent campaign', calling_window: ALL_DAY, retry_delay: 0, max_concurrent_calls: 2, provider_options: { mode: 'DIRECT', payload: { scriptPreview: 'Hello from the campaign' } } })
        .expect(201)
    ).body.campaign.id;
    const phones = Array.from({ length: 20 }, (_, i) => `+6173182${String(4600 + i).padStart(4, '0')}`);
    await http().post(`/campaigns/${campaign}/contacts`).set(auth).set('content-type', 'application/json').send(JSON.stringify(phones.map((phone) => ({ phone })))).expect(200);
    await http().post(`/campaigns/${campaign}/start`).set(auth).expect(200);
    const done = await waitFor(async () => {
      const c = (await http().get(`/campaigns/${campaign}`).set(auth).expect(200)).body.campaign;
      return c.status === 'completed' ? c : null;
    }, 120_000, 500);
    expect(done.progress).toMatchObject({ total: 20, completed: 20, in_progress: 0, pending: 0 });
    const starts = backend.requests.filter((r) => r.path === '/call/start' && phones.includes(String(r.body.phoneE164)));
    expect(new Set(starts.map((r) => r.body.phoneE164)).size).toBe(20);
    expect(starts).toHaveLength(20);
  }, 150_000);
});
