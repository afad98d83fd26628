import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { CampaignOutcomeListener } from '../../src/campaign/campaign-outcome.listener';
import { Clock } from '../../src/common/clock/clock';
import type { DomainEvent } from '../../src/notification/domain-events';
import { EventRelay } from '../../src/notification/event-relay.service';
import { NotificationMaintenanceJob } from '../../src/notification/notification-maintenance.job';
import { FakeTwilioServer } from '../fakes/fake-twilio.server';
import { throughFakeTwilio, twilioTestEnv } from '../utils/fake-twilio-app';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { postTwilioCallback } from '../utils/twilio-callbacks';
import { waitFor } from '../utils/wait';

const SID = `AC${'13579bdf02468ace'.repeat(2)}`;
const TOKEN = 'campaign-attempts-twilio-token-0123';
const PUBLIC = 'https://calls.example.com';
const alice = bearer(tokenFor('attempts-alice'));
const bob = bearer(tokenFor('attempts-bob'));
const ALL_DAY = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [] };
const refused503 = { kind: 'status' as const, status: 503, code: 20503, message: 'Service Unavailable' };
const refused429 = { kind: 'status' as const, status: 429, code: 20429, message: 'Too Many Requests' };
const invalidNumber = { kind: 'status' as const, status: 400, code: 21211, message: "The 'To' number is not a valid phone number." };

interface Attempt {
  id: string;
  contact_id: string;
  phone: string;
  attempt_number: number;
  call_id: string | null;
  state: string;
  outcome: string | null;
  error_code: string | null;
}

// Campaigns on Twilio (a local fake speaking its protocol). The tick is slow on purpose: every pass here is
// started by an attempt's end (the outcome event), by start, or by run-once, so what a pass did is observable.
describe('campaign attempts, provider refusals, batch_size and run-once (fake Twilio)', () => {
  const fake = new FakeTwilioServer(SID, TOKEN);
  const clock = new TestClock();
  let t: TestApp;
  let phoneSeq = 0;
  const nextPhone = () => `+1415557${String(phoneSeq++).padStart(4, '0')}`;
  const http = () => request(t.app.getHttpServer());
  const db = () => t.get<Connection>(getConnectionToken());

  const createCampaign = async (body: Record<string, unknown>): Promise<string> =>
    (await http().post('/campaigns').set(alice).send({ name: 'Survey', calling_window: ALL_DAY, ...body }).expect(201)).body.campaign.id;
  const importPhones = (id: string, phones: string[]) =>
    http().post(`/campaigns/${id}/contacts`).set(alice).set('content-type', 'application/json').send(JSON.stringify(phones.map((phone) => ({ phone })))).expect(200);
  const contactOf = async (id: string, phone: string) =>
    ((await http().get(`/campaigns/${id}/contacts`).query({ limit: 500 }).set(alice).expect(200)).body.contacts as Array<{ phone: string; status: string; attempts: number; last_outcome: string | null }>).find(
      (c) => c.phone === phone,
    )!;
  const attemptsOf = async (id: string, query: Record<string, string | number> = {}): Promise<{ total: number; attempts: Attempt[] }> =>
    (await http().get(`/campaigns/${id}/attempts`).query({ limit: 500, ...query }).set(alice).expect(200)).body;
  const campaignOf = async (id: string) => (await http().get(`/campaigns/${id}`).set(alice).expect(200)).body.campaign;
  // Twilio's final callback for the call placed for `phone`, signed, to the URL the request named.
  const completeCallTo = async (phone: string) => {
    const call = fake.calls.find((c) => c.to === phone)!;
    const callbackUrl = String(fake.createRequestsTo(phone).at(-1)!.params.StatusCallback);
    fake.finish(call.sid, 'completed', 30);
    const res = await postTwilioCallback(t.app.getHttpServer(), PUBLIC, TOKEN, callbackUrl.slice(PUBLIC.length), { AccountSid: SID, CallSid: call.sid, CallStatus: 'completed', CallDuration: '30' });
    expect(res.status).toBeLessThan(300);
    return call.sid;
  };

  beforeAll(async () => {
    await fake.start();
    const config = testConfig({
      ...twilioTestEnv({ sid: SID, token: TOKEN, publicBaseUrl: PUBLIC }),
      // One request per attempt: the dispatcher's own retries of a refusal are tested elsewhere.
      PROVIDER_MAX_RETRIES: '0',
      CAMPAIGN_TICK_INTERVAL_MS: '600000',
      SCHEDULER_POLL_INTERVAL_MS: '300',
    });
    t = await createTestApp({
      config,
      override: (b) => throughFakeTwilio(config, fake.url)(b.overrideProvider(Clock).useValue(clock)),
    });
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  it('a provider refusal (5xx, rate limit) returns the contact to the next pass, whatever retry_on and retry_delay say; the attempts API shows each with its outcome and call id', async () => {
    const phone = nextPhone();
    // retry_on [] and an hour's retry_delay: only the refusal rule can bring the contact back, and at once.
    const id = await createCampaign({ max_attempts: 3, retry_on: [], retry_delay: 3600 });
    await importPhones(id, [phone]);
    fake.respondWith(refused503, refused429);
    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);

    await waitFor(async () => (fake.calls.some((c) => c.to === phone) ? true : null), 30_000);
    expect(fake.createRequestsTo(phone)).toHaveLength(3);
    const placed = await waitFor(async () => {
      const page = await attemptsOf(id);
      return page.total === 3 && page.attempts[0].call_id ? page : null;
    }, 15_000);
    // Newest first: the placed attempt is open and carries its call id; the two refusals are settled without one.
    expect(placed.attempts.map((a) => [a.attempt_number, a.state, a.outcome, a.error_code, a.call_id === null])).toEqual([
      [3, 'open', null, null, false],
      [2, 'settled', 'provider_refused', '20429', true],
      [1, 'settled', 'provider_refused', '20503', true],
    ]);
    expect(placed.attempts.every((a) => a.phone === phone)).toBe(true);

    const sid = await completeCallTo(phone);
    const done = await waitFor(async () => {
      const c = await contactOf(id, phone);
      return c.status === 'completed' ? c : null;
    }, 15_000);
    expect(done).toMatchObject({ attempts: 3, last_outcome: 'completed' });
    // The settlement writes the contact, then its attempt: the attempt is waited for, not assumed.
    const last = await waitFor(async () => ((a) => (a.state === 'settled' ? a : null))((await attemptsOf(id)).attempts[0]), 15_000);
    expect(last).toMatchObject({ attempt_number: 3, state: 'settled', outcome: 'completed', call_id: sid, error_code: null });
    await waitFor(async () => ((await campaignOf(id)).status === 'completed' ? true : null), 15_000);
  }, 60_000);

  it("an attempt's final callback whose durable consumers a crash cut off: the relay pass settles it, and a pass again changes nothing", async () => {
    const phone = nextPhone();
    const id = await createCampaign({ max_attempts: 1 });
    await importPhones(id, [phone]);
    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
    await waitFor(async () => ((await attemptsOf(id)).attempts[0]?.call_id ? true : null), 30_000);

    // The process stops once the outcome is stored and marked: the published event never reaches the
    // durable consumers (the campaign's, here).
    const relay = t.get<EventRelay>(EventRelay);
    const cut = jest.spyOn(relay, 'deliver').mockImplementation(() => undefined);
    let finalEvent: DomainEvent;
    try {
      await completeCallTo(phone);
      finalEvent = await waitFor(async () => cut.mock.calls.find(([event]) => event.type === 'call.completed')?.[0], 15_000);
    } finally {
      cut.mockRestore();
    }
    expect((await attemptsOf(id)).attempts[0]).toMatchObject({ state: 'open' });
    // Its log says it is a campaign attempt's, and so does its event.
    expect(await db().collection('call_logs').findOne({ phone })).toMatchObject({ for_campaign: true });
    expect(finalEvent).toMatchObject({ for_campaign: true });
    const entries = db().collection('notification_relay_pending');
    expect(await entries.countDocuments({ type: 'call.completed', 'data.phone': phone })).toBe(1);

    await entries.updateMany({ type: 'call.completed', 'data.phone': phone }, { $set: { at: new Date(Date.now() - 120_000) } });
    const pass = async () => Number(/relayed=(\d+)/.exec((await t.get<NotificationMaintenanceJob>(NotificationMaintenanceJob).handle()).outcome)![1]);
    expect(await pass()).toBeGreaterThanOrEqual(1);
    expect(await contactOf(id, phone)).toMatchObject({ status: 'completed', attempts: 1, last_outcome: 'completed' });
    expect((await attemptsOf(id)).attempts.map((a) => [a.attempt_number, a.state, a.outcome])).toEqual([[1, 'settled', 'completed']]);
    await waitFor(async () => ((await campaignOf(id)).status === 'completed' ? true : null), 15_000);
    expect(await entries.countDocuments({ type: 'call.completed', 'data.phone': phone })).toBe(0);

    // Run again (a repeat store, another instance's pass): the settled attempt is not settled twice.
    await t.get<CampaignOutcomeListener>(CampaignOutcomeListener).handle(finalEvent);
    expect((await attemptsOf(id)).attempts.map((a) => [a.attempt_number, a.state, a.outcome])).toEqual([[1, 'settled', 'completed']]);
    expect(await contactOf(id, phone)).toMatchObject({ status: 'completed', attempts: 1 });
    expect(fake.createRequestsTo(phone)).toHaveLength(1);
  }, 60_000);

  it('refusals count towards max_attempts: the contact ends exhausted, never dialed beyond them', async () => {
    const phone = nextPhone();
    const id = await createCampaign({ max_attempts: 2, retry_on: ['busy'] });
    await importPhones(id, [phone]);
    fake.respondWith(refused429, refused503);
    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
    const contact = await waitFor(async () => {
      const c = await contactOf(id, phone);
      return c.status === 'exhausted' ? c : null;
    }, 30_000);
    expect(contact).toMatchObject({ attempts: 2, last_outcome: 'provider_refused' });
    await waitFor(async () => ((await campaignOf(id)).status === 'completed' ? true : null), 15_000);
    expect(fake.createRequestsTo(phone)).toHaveLength(2);
    expect((await attemptsOf(id)).attempts.map((a) => [a.outcome, a.error_code])).toEqual([
      ['provider_refused', '20503'],
      ['provider_refused', '20429'],
    ]);
  }, 60_000);

  it('an invalid number ends the contact failed after one request, even with failed in retry_on', async () => {
    const phone = nextPhone();
    const id = await createCampaign({ max_attempts: 3, retry_on: ['busy', 'no_answer', 'failed'], retry_delay: 0 });
    await importPhones(id, [phone]);
    fake.respondWith(invalidNumber);
    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
    await waitFor(async () => ((await campaignOf(id)).status === 'completed' ? true : null), 30_000);
    expect(await contactOf(id, phone)).toMatchObject({ status: 'failed', attempts: 1, last_outcome: 'invalid_number' });
    expect(fake.createRequestsTo(phone)).toHaveLength(1);
    const settled = await waitFor(async () => ((r) => (r.attempts.every((a) => a.state === 'settled') ? r.attempts : null))(await attemptsOf(id)), 15_000);
    expect(settled).toEqual([expect.objectContaining({ attempt_number: 1, state: 'settled', outcome: 'invalid_number', error_code: '21211', call_id: null })]);
  }, 60_000);

  it('batch_size bounds the attempts one pass starts; run-once runs a pass now; both answer bad input with the standard error body and write nothing', async () => {
    const phones = Array.from({ length: 5 }, () => nextPhone());
    const bad = await http().post('/campaigns').set(alice).send({ name: 'x', batch_size: 0 }).expect(400);
    expect(bad.body).toMatchObject({ status: 'error', error_code: 'CAMPAIGN_003', details: { field: 'batch_size' } });
    expect(typeof bad.body.timestamp).toBe('string');
    await http().post('/campaigns').set(alice).send({ name: 'x', batch_size: 2.5 }).expect(400);

    // Starting an hour from now (on the injectable clock): start's own pass finds nothing to do yet.
    const startAt = new Date(clock.now().getTime() + 3_600_000);
    const id = await createCampaign({ max_concurrent_calls: 10, batch_size: 2, start_at: startAt.toISOString() });
    expect((await campaignOf(id)).batch_size).toBe(2);
    await importPhones(id, phones);

    const draft = await http().post(`/campaigns/${id}/run-once`).set(alice).expect(409);
    expect(draft.body).toMatchObject({ status: 'error', error_code: 'CAMPAIGN_002', details: { field: 'status' } });
    expect((await http().post('/campaigns/000000000000000000000000/run-once').set(alice).expect(404)).body.error_code).toBe('CAMPAIGN_001');
    expect((await http().post(`/campaigns/${id}/run-once`).set(bob).expect(404)).body.error_code).toBe('CAMPAIGN_001');
    expect((await attemptsOf(id)).total).toBe(0);

    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
    const early = (await http().post(`/campaigns/${id}/run-once`).set(alice).expect(200)).body;
    expect(early.run).toEqual({ outcome: 'not_started', started: 0 });
    clock.advance(3_600_000 + 1000);

    const first = (await http().post(`/campaigns/${id}/run-once`).set(alice).expect(200)).body;
    expect(first).toMatchObject({ status: 'success', run: { outcome: 'batch_size_reached', started: 2 }, campaign: { id, status: 'running', progress: { in_progress: 2, pending: 3 } } });
    const second = (await http().post(`/campaigns/${id}/run-once`).set(alice).expect(200)).body;
    expect(second.run).toEqual({ outcome: 'batch_size_reached', started: 2 });
    const third = (await http().post(`/campaigns/${id}/run-once`).set(alice).expect(200)).body;
    expect(third.run).toEqual({ outcome: 'advanced', started: 1 });
    expect(third.campaign.progress).toMatchObject({ in_progress: 5, pending: 0 });
    expect((await attemptsOf(id)).total).toBe(5);

    // Paused: run-once is refused and starts nothing.
    await http().post(`/campaigns/${id}/pause`).set(alice).expect(200);
    expect((await http().post(`/campaigns/${id}/run-once`).set(alice).expect(409)).body.error_code).toBe('CAMPAIGN_002');
    expect((await attemptsOf(id)).total).toBe(5);
    await http().post(`/campaigns/${id}/resume`).set(alice).expect(200);

    // Every call placed once; finishing them completes the campaign, each attempt with its own call id.
    await waitFor(async () => (phones.every((p) => fake.calls.some((c) => c.to === p)) ? true : null), 30_000);
    const sids = new Map<string, string>();
    for (const phone of phones) sids.set(phone, await completeCallTo(phone));
    await waitFor(async () => ((await campaignOf(id)).status === 'completed' ? true : null), 30_000);
    // The campaign ends with its contacts; each attempt's own settlement follows, so it is waited for.
    const attempts = await waitFor(async () => ((r) => (r.attempts.every((a) => a.state === 'settled') ? r.attempts : null))(await attemptsOf(id)), 15_000);
    expect(attempts).toHaveLength(5);
    for (const a of attempts) expect(a).toMatchObject({ attempt_number: 1, state: 'settled', outcome: 'completed', call_id: sids.get(a.phone) });
    for (const phone of phones) expect(fake.createRequestsTo(phone)).toHaveLength(1);
  }, 90_000);

  it('lists attempts paged and per contact, scoped to the tenant, with the standard error body for bad queries', async () => {
    const phones = [nextPhone(), nextPhone()];
    const id = await createCampaign({ max_attempts: 2, retry_on: [] });
    await importPhones(id, phones);
    fake.respondWith(refused503);
    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
    await waitFor(async () => (phones.every((p) => fake.calls.some((c) => c.to === p)) ? true : null), 30_000);
    const all = await waitFor(async () => {
      const page = await attemptsOf(id);
      return page.total === 3 && page.attempts.every((a) => a.state === 'settled' || a.call_id) ? page : null;
    }, 15_000);
    const refusedContact = all.attempts.find((a) => a.outcome === 'provider_refused')!.contact_id;

    const paged = (await http().get(`/campaigns/${id}/attempts`).query({ limit: 1, offset: 1 }).set(alice).expect(200)).body;
    expect(paged).toMatchObject({ status: 'success', total: 3, limit: 1, offset: 1 });
    expect(paged.attempts.map((a: Attempt) => a.id)).toEqual([all.attempts[1].id]);
    const ofContact = await attemptsOf(id, { contact_id: refusedContact });
    expect(ofContact.total).toBe(2);
    expect(ofContact.attempts.map((a) => a.attempt_number)).toEqual([2, 1]);

    expect((await http().get(`/campaigns/${id}/attempts`).set(bob).expect(404)).body).toMatchObject({ status: 'error', error_code: 'CAMPAIGN_001' });
    expect((await http().get('/campaigns/not-an-id/attempts').set(alice).expect(404)).body.error_code).toBe('CAMPAIGN_001');
    await http().get(`/campaigns/${id}/attempts`).expect(401);
    for (const query of [{ limit: 0 }, { limit: 501 }, { offset: -1 }, { contact_id: 'nope' }]) {
      const res = await http().get(`/campaigns/${id}/attempts`).query(query).set(alice).expect(400);
      expect(res.body).toMatchObject({ status: 'error', error_code: expect.stringMatching(/^VALIDATION_/), details: { field: Object.keys(query)[0] } });
    }
    expect((await http().get(`/campaigns/${id}/attempts`).query({ colour: 'red' }).set(alice).expect(400)).body.error_code).toBe('VALIDATION_003');

    for (const phone of phones) await completeCallTo(phone);
    await waitFor(async () => ((await campaignOf(id)).status === 'completed' ? true : null), 30_000);
    // As above: the campaign ends with its contacts, and each attempt settles after its contact.
    await waitFor(async () => (await db().collection('campaign_attempts').countDocuments({ campaign_id: id, state: 'open' })) === 0, 15_000);
    expect(await db().collection('campaign_attempts').countDocuments({ campaign_id: id })).toBe(3);
  }, 60_000);
});
