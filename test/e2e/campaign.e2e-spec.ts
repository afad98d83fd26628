import { getConnectionToken } from '@nestjs/mongoose';
import { Types, type Connection } from 'mongoose';
import request from 'supertest';
import { CampaignRunner } from '../../src/campaign/campaign-runner.service';
import { Clock } from '../../src/common/clock/clock';
import { DncRepository } from '../../src/dnc/dnc.repository';
import { CallReconcileJob } from '../../src/status-update/call-reconcile.job';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const alice = bearer(tokenFor('alice'));
const bob = bearer(tokenFor('bob'));
const ALL_DAY = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [] };
const phone = (base: number, i: number) => `+1415${String(base + i).padStart(7, '0')}`;

interface Contact {
  id: string;
  phone: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_outcome: string | null;
}

describe('campaigns (real database, real Agenda, simulated provider)', () => {
  let t: TestApp;
  const clock = new TestClock();
  const http = () => request(t.app.getHttpServer());
  const db = () => t.get<Connection>(getConnectionToken());

  const createCampaign = async (body: Record<string, unknown>): Promise<string> =>
    (await http().post('/campaigns').set(alice).send({ name: 'Survey', calling_window: ALL_DAY, retry_delay: 0, ...body }).expect(201)).body.campaign.id;
  const importJson = (id: string, contacts: unknown) => http().post(`/campaigns/${id}/contacts`).set(alice).set('content-type', 'application/json').send(JSON.stringify(contacts));
  const contactsOf = async (id: string, status?: string): Promise<Contact[]> =>
    (await http().get(`/campaigns/${id}/contacts`).query({ limit: 500, ...(status ? { status } : {}) }).set(alice).expect(200)).body.contacts;
  const progress = async (id: string) => (await http().get(`/campaigns/${id}`).set(alice).expect(200)).body.campaign;
  const dialsTo = async (phones: string[]) => db().collection('call_logs').find({ phone: { $in: phones } }).toArray();
  const outcomesOf = async (id: string) => {
    const schedules = await db().collection('call_schedules').find({ campaign_id: id }).toArray();
    return (await db().collection('campaign_contacts').find({ campaign_id: id }).toArray()).map(
      (c) =>
        `${c.phone} ${c.status} attempts=${c.attempts} seq=${c.attempt_seq} ${c.last_outcome} | ` +
        schedules.filter((s) => String(s.campaign_contact_id) === c._id.toHexString()).map((s) => `${s.status}/${s.last_call_status}`).join(' '),
    );
  };
  const settled = (c: { progress: Record<string, number> }) => c.progress.in_progress === 0 && c.progress.pending === 0 && c.progress.not_reached === 0;
  // After a pause or a cancel: until every attempt started before it has ended. A pass of the runner marks
  // a contact in_progress before it re-reads the campaign's status, so one that claimed a contact after the
  // pause or cancel finds it and withdraws the attempt undialed.
  const noneInProgress = (id: string) => waitFor(async () => (await progress(id)).progress.in_progress === 0, 100_000, 500);
  // Then nothing can dial any more: no schedule of the campaign is left to dispatch, and a pass of the
  // runner (what a tick or an outcome event runs) starts nothing. A pass already running here folds the
  // request into itself, so it is asked again until it runs one of its own.
  const nothingLeftToDial = async (id: string) => {
    const runner = t.get<CampaignRunner>(CampaignRunner);
    const pass = await waitFor(async () => ((r) => (r.outcome === 'folded_into_running_pass' ? null : r))(await runner.advance(id)), 30_000, 50);
    // A cancelled campaign's pass withdraws what is left undialed: nothing, by now.
    expect(pass).toMatchObject({ outcome: expect.stringMatching(/^(not_running|cancelled withdrawn=0)$/), started: 0 });
    expect(await db().collection('call_schedules').countDocuments({ campaign_id: id, status: { $in: ['scheduled', 'pending', 'running'] } })).toBe(0);
  };

  beforeAll(async () => {
    // Campaign events drive the pace; slower Agenda polls and sweeps keep FerretDB's single writer free for the dials.
    t = await createTestApp({
      env: { CAMPAIGN_TICK_INTERVAL_MS: '2000', SCHEDULER_JOB_POLL_INTERVAL_MS: '2000', SCHEDULER_POLL_INTERVAL_MS: '500' },
      override: (b) => b.overrideProvider(Clock).useValue(clock),
    });
  });
  afterAll(() => t.close());

  describe('API', () => {
    it('creates, lists and reads campaigns per tenant, with defaults and the standard error body', async () => {
      const id = await createCampaign({ name: 'Renewals', timezone: 'Europe/Berlin', max_attempts: 4, retry_on: ['busy', 'no-answer'], daily_cap: 100, priority: 5 });
      const campaign = await progress(id);
      expect(campaign).toMatchObject({
        name: 'Renewals',
        status: 'draft',
        timezone: 'Europe/Berlin',
        max_attempts: 4,
        retry_on: ['busy', 'no_answer'],
        max_concurrent_calls: 5,
        daily_cap: 100,
        priority: 5,
        progress: { pending: 0, in_progress: 0, completed: 0, failed: 0, skipped: 0, exhausted: 0, not_reached: 0, total: 0 },
      });
      const list = (await http().get('/campaigns').set(alice).expect(200)).body;
      expect(list.campaigns.map((c: { id: string }) => c.id)).toContain(id);
      await http().get(`/campaigns/${id}`).set(bob).expect(404);
      const bad = await http().post('/campaigns').set(alice).send({ name: 'x', calling_window: { days: [8], start: '09:00', end: '17:00' } }).expect(400);
      expect(bad.body).toMatchObject({ status: 'error', error_code: 'CALLING_RULES_001', details: { field: 'calling_window.days' } });
      const badRetry = await http().post('/campaigns').set(alice).send({ name: 'x', retry_on: ['completed'] }).expect(400);
      expect(badRetry.body).toMatchObject({ error_code: 'CAMPAIGN_003', details: { field: 'retry_on' } });
      const unknown = await http().post('/campaigns').set(alice).send({ name: 'x', colour: 'red' }).expect(400);
      expect(unknown.body.error_code).toBe('VALIDATION_003');
      await http().post(`/campaigns/${id}/resume`).set(alice).expect(409);
      expect((await http().get('/campaigns/000000000000000000000000').set(alice).expect(404)).body.error_code).toBe('CAMPAIGN_001');
    });

    it('imports JSON and CSV: validates, normalises and deduplicates phones, and reports every invalid row', async () => {
      const id = await createCampaign({});
      const json = await importJson(id, [
        { phone: '+1 (415) 200-0001', name: 'Ann', timezone: 'America/Los_Angeles', variables: { policy: 'P-1' } },
        { phone: '+14152000001', name: 'Ann again' },
        { phone: '12345', name: 'Short' },
        { phone: '+14152000002', timezone: 'Mars/Olympus' },
        { phone: '+14152000003', due_date: '2026-02-30' },
        { phone: '+14152000004', colour: 'red' },
        { name: 'No phone' },
        { phone: '+14152000005', due_date: '2026-12-01' },
      ]).expect(200);
      expect(json.body).toMatchObject({ received: 8, accepted: 2, duplicate: 1, invalid: 5 });
      expect(json.body.invalid_rows).toEqual([
        { row: 3, phone: '12345', reason: 'phone is not a valid international number' },
        { row: 4, phone: '+14152000002', reason: 'timezone must be an IANA timezone name' },
        { row: 5, phone: '+14152000003', reason: 'due_date must be a YYYY-MM-DD date' },
        { row: 6, phone: '+14152000004', reason: 'colour is not an accepted field' },
        { row: 7, phone: null, reason: 'phone is required' },
      ]);

      const csv = ['phone,name,timezone,due_date,policy', '+14152000001,Dup,,,', '+44 20 7946 0001,Brit,Europe/London,,P-9', 'not-a-phone,X,,,', '+442079460001,Brit twice,,,'].join('\n');
      const res = await http().post(`/campaigns/${id}/contacts`).set(alice).set('content-type', 'text/csv').send(csv).expect(200);
      expect(res.body).toMatchObject({ received: 4, accepted: 1, duplicate: 2, invalid: 1 });
      expect(res.body.invalid_rows).toEqual([{ row: 3, phone: 'not-a-phone', reason: 'phone is not a valid international number' }]);

      const contacts = await contactsOf(id);
      expect(contacts.map((c) => c.phone).sort()).toEqual(['+14152000001', '+14152000005', '+442079460001']);
      const brit = contacts.find((c) => c.phone === '+442079460001') as unknown as { variables: unknown; timezone: string };
      expect(brit).toMatchObject({ timezone: 'Europe/London', variables: { policy: 'P-9' }, status: 'pending', attempts: 0 });
      expect((await progress(id)).progress).toMatchObject({ pending: 3, total: 3 });

      const malformed = await importJson(id, 'oops').expect(400);
      expect(malformed.body.error_code).toBe('CAMPAIGN_004');
      const wrongType = await http().post(`/campaigns/${id}/contacts`).set(alice).set('content-type', 'text/plain').send('x').expect(400);
      expect(wrongType.body).toMatchObject({ error_code: 'CAMPAIGN_004', details: { field: 'Content-Type' } });
    });

    it('streams a JSON body far larger than the global JSON limit', async () => {
      const id = await createCampaign({});
      const rows = Array.from({ length: 3000 }, (_, i) => ({ phone: phone(3_000_000, i), name: `Contact number ${i}`, variables: { note: 'x'.repeat(60) } }));
      const body = JSON.stringify({ contacts: rows });
      expect(body.length).toBeGreaterThan(300 * 1024);
      const res = await importJson(id, { contacts: rows }).expect(200);
      expect(res.body).toMatchObject({ received: 3000, accepted: 3000, duplicate: 0, invalid: 0 });
      expect((await progress(id)).progress.total).toBe(3000);
      const page = (await http().get(`/campaigns/${id}/contacts`).query({ limit: 10, offset: 2990, status: 'pending' }).set(alice).expect(200)).body;
      expect(page).toMatchObject({ total: 3000, limit: 10, offset: 2990 });
      expect(page.contacts).toHaveLength(10);
    });
  });

  describe('running', () => {
    beforeEach(() => clock.set(new Date()));

    it('retries busy and no-answer until exhausted, through the schedule pipeline', async () => {
      const id = await createCampaign({ max_attempts: 3, retry_on: ['busy', 'no_answer'], provider_options: { simulate_outcome: 'busy' } });
      const phones = [0, 1, 2].map((i) => phone(4_000_000, i));
      await importJson(id, phones.map((p) => ({ phone: p }))).expect(200);
      await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
      const done = await waitFor(async () => {
        const c = await progress(id);
        return settled(c) && c.status === 'completed' ? c : null;
      }, 100_000, 500);
      expect(done.progress).toMatchObject({ exhausted: 3, total: 3, completed: 0 });
      expect(done.status).toBe('completed');
      for (const c of await contactsOf(id)) expect(c).toMatchObject({ status: 'exhausted', attempts: 3, last_outcome: 'busy' });
      const logs = await dialsTo(phones);
      expect(logs).toHaveLength(9);
      expect(logs.every((l) => l.status === 'busy')).toBe(true);
      // Each attempt is its own one-time schedule, tagged with the campaign.
      const schedules = await db().collection('call_schedules').find({ campaign_id: id }).toArray();
      expect(schedules).toHaveLength(9);
      expect(schedules.every((s) => s.status === 'failed' && s.respect_calling_hours === true && s.calling_window?.start === '00:00')).toBe(true);
    }, 240_000);

    it('completes answered contacts, fails non-retryable outcomes and skips DNC numbers without dialing them', async () => {
      const failedId = await createCampaign({ max_attempts: 3, retry_on: ['busy'], provider_options: { simulate_outcome: 'failed' } });
      const okId = await createCampaign({ max_attempts: 3 });
      const failedPhones = [0, 1].map((i) => phone(4_100_000, i));
      const okPhones = [0, 1, 2, 3].map((i) => phone(4_200_000, i));
      await t.get<DncRepository>(DncRepository).insertOne({ tenant_id: 'alice', phone: okPhones[3], reason: 'asked', source: 'api', created_by: 'alice', created_at: new Date() });
      await importJson(failedId, failedPhones.map((p) => ({ phone: p }))).expect(200);
      await importJson(okId, okPhones.map((p) => ({ phone: p }))).expect(200);
      await http().post(`/campaigns/${failedId}/start`).set(alice).expect(200);
      await http().post(`/campaigns/${okId}/start`).set(alice).expect(200);
      const failed = await waitFor(async () => ((c) => (settled(c) ? c : null))(await progress(failedId)), 100_000, 500);
      const ok = await waitFor(async () => ((c) => (settled(c) ? c : null))(await progress(okId)), 100_000, 500);
      expect(failed.progress).toMatchObject({ failed: 2, total: 2 });
      expect(ok.progress).toMatchObject({ completed: 3, skipped: 1, total: 4 });
      expect((await contactsOf(okId, 'skipped'))[0]).toMatchObject({ phone: okPhones[3], attempts: 0, last_outcome: 'dnc' });
      expect((await dialsTo(failedPhones)).length).toBe(2);
      const okLogs = await dialsTo(okPhones);
      expect(okLogs.map((l) => l.phone).sort()).toEqual(okPhones.slice(0, 3));
    }, 240_000);

    it('a campaign stored before simulate_outcome was checked still reaches its contacts; the simulator plays its default', async () => {
      const id = await createCampaign({ max_attempts: 1 });
      // What an earlier version accepted and stored; the API refuses it today.
      await http().post('/campaigns').set(alice).send({ name: 'Survey', calling_window: ALL_DAY, provider_options: { simulate_outcome: 'voicemail' } }).expect(400);
      await db().collection('campaigns').updateOne({ _id: new Types.ObjectId(id) }, { $set: { provider_options: { simulate_outcome: 'voicemail', simulate_duration: -5 } } });
      const phones = [0, 1].map((i) => phone(4_320_000, i));
      await importJson(id, phones.map((p) => ({ phone: p }))).expect(200);
      await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
      const done = await waitFor(async () => ((c) => (settled(c) ? c : null))(await progress(id)), 100_000, 500);
      expect(done.progress).toMatchObject({ completed: 2, failed: 0, total: 2 });
      const logs = await dialsTo(phones);
      expect(logs.map((l) => `${l.phone} ${l.status} ${l.duration}`).sort()).toEqual(phones.map((p) => `${p} completed 42`));
    }, 240_000);

    it('gives back the seat of a dial whose outcome is unknown, never redials it, and settles it as failed later', async () => {
      const id = await createCampaign({ max_attempts: 3, max_concurrent_calls: 1, retry_on: ['busy', 'no_answer', 'failed'], provider_options: { simulate_outcome: 'unknown' } });
      const phones = [0, 1].map((i) => phone(4_350_000, i));
      await importJson(id, phones.map((p) => ({ phone: p }))).expect(200);
      await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
      // One seat: the second contact is dialed only because the first unknown dial gave its seat back.
      await waitFor(async () => ((await dialsTo(phones)).filter((l) => l.status === 'unknown').length === 2 ? true : null), 60_000, 500);
      expect((await progress(id)).progress).toMatchObject({ in_progress: 2, total: 2 });
      for (const c of await contactsOf(id)) expect(c).toMatchObject({ status: 'in_progress', attempts: 1 });
      const reconcile = t.get<CallReconcileJob>(CallReconcileJob);
      expect((await reconcile.handle()).outcome).toMatch(/unknown_settled=0/);

      // Past any call's length, no callback will come: the outcome is recorded as unknown, once.
      clock.advance(251 * 60_000);
      // call.reconcile also runs on its own here (real Agenda, the same clock), and may settle one or both
      // first: between it and this pass, each is settled once.
      await reconcile.handle();
      await waitFor(async () => ((await dialsTo(phones)).every((l) => l.outcome_recorded_at instanceof Date) ? true : null), 30_000, 200);
      expect((await reconcile.handle()).outcome).toMatch(/unknown_settled=0/);
      const schedules = await db().collection('call_schedules').find({ campaign_id: id }).toArray();
      expect(schedules.map((s) => `${s.status}/${s.last_call_status}`)).toEqual(['failed/unknown', 'failed/unknown']);
      const done = await waitFor(async () => ((c) => (settled(c) && c.status === 'completed' ? c : null))(await progress(id)), 60_000, 500);
      expect(done.progress).toMatchObject({ failed: 2, total: 2 });
      for (const c of await contactsOf(id)) expect(c).toMatchObject({ status: 'failed', attempts: 1, last_outcome: 'unknown' });
      expect(await dialsTo(phones)).toHaveLength(2);
    }, 240_000);

    it('caps attempts per callee-local day and keeps the minimum gap between attempts', async () => {
      const perDay = await createCampaign({ max_attempts: 3, max_attempts_per_day: 1, provider_options: { simulate_outcome: 'no-answer' } });
      const gap = await createCampaign({ max_attempts: 2, min_attempt_gap_minutes: 30, provider_options: { simulate_outcome: 'no-answer' } });
      const perDayPhone = phone(4_300_000, 0);
      const gapPhone = phone(4_300_000, 1);
      await importJson(perDay, [{ phone: perDayPhone, timezone: 'Asia/Tokyo' }]).expect(200);
      await importJson(gap, [{ phone: gapPhone, timezone: 'America/New_York' }]).expect(200);
      await http().post(`/campaigns/${perDay}/start`).set(alice).expect(200);
      await http().post(`/campaigns/${gap}/start`).set(alice).expect(200);

      const first = await waitFor(async () => ((cs) => (cs.length === 1 ? cs[0] : null))(await contactsOf(perDay, 'not_reached')), 100_000, 500);
      const firstGap = await waitFor(async () => ((cs) => (cs.length === 1 ? cs[0] : null))(await contactsOf(gap, 'not_reached')), 100_000, 500);
      const now = clock.now();
      // Not before midnight in Tokyo (the callee's day), and not before 30 minutes after the first attempt.
      const tokyoMidnight = new Date(Date.parse(new Date(now.getTime() + 9 * 3600_000).toISOString().slice(0, 10) + 'T00:00:00Z') - 9 * 3600_000 + 86_400_000);
      const held = await waitFor(async () => ((cs) => (cs[0]?.last_outcome === 'daily_attempt_cap' ? cs[0] : null))(await contactsOf(perDay)), 100_000, 500);
      expect((await dialsTo([perDayPhone, gapPhone])).length).toBe(2);
      expect(held).toMatchObject({ status: 'not_reached', attempts: 1, last_outcome: 'daily_attempt_cap' });
      expect(held.next_attempt_at).toBe(tokyoMidnight.toISOString());
      const gapHeld = (await contactsOf(gap))[0];
      expect(gapHeld.attempts).toBe(1);
      expect(Date.parse(gapHeld.next_attempt_at!) - Date.parse((firstGap as unknown as { last_attempt_at: string }).last_attempt_at)).toBe(30 * 60_000);
      expect(first.attempts).toBe(1);

      // 31 minutes later the gap has passed; the daily cap still holds until Tokyo's next day.
      clock.advance(31 * 60_000);
      await waitFor(async () => ((cs) => (cs[0]?.status === 'exhausted' ? cs[0] : null))(await contactsOf(gap)), 100_000, 500);
      expect((await dialsTo([gapPhone])).length).toBe(2);
      if (clock.now().getTime() < tokyoMidnight.getTime()) expect((await dialsTo([perDayPhone])).length).toBe(1);
      clock.set(new Date(tokyoMidnight.getTime() + 60_000));
      await waitFor(async () => ((logs) => (logs.length === 2 ? logs : null))(await dialsTo([perDayPhone])), 100_000, 500);
      expect((await contactsOf(perDay))[0]).toMatchObject({ attempts: 2 });
    }, 240_000);

    it('pauses, resumes and cancels; counters always add up to the contact count', async () => {
      const id = await createCampaign({ max_concurrent_calls: 1, provider_options: { simulate_duration: 1 } });
      const phones = Array.from({ length: 12 }, (_, i) => phone(4_400_000, i));
      await importJson(id, phones.map((p) => ({ phone: p }))).expect(200);
      await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
      await waitFor(async () => (await progress(id)).progress.completed >= 2, 100_000, 500);
      await http().post(`/campaigns/${id}/pause`).set(alice).expect(200);
      await noneInProgress(id);
      const atPause = (await dialsTo(phones)).length;
      await nothingLeftToDial(id);
      expect((await dialsTo(phones)).length).toBe(atPause);
      const paused = await progress(id);
      expect(paused.status).toBe('paused');
      // Every contact either finished its call or still waits for its first attempt (an attempt withdrawn
      // by the pause goes back to pending); the outcomes are listed when it fails.
      const waitingOrDone = paused.progress.pending + paused.progress.completed;
      expect(`${waitingOrDone} of 12 pending or completed\n${(await outcomesOf(id)).join('\n')}`).toMatch(/^12 of 12 /);

      await http().post(`/campaigns/${id}/resume`).set(alice).expect(200);
      await waitFor(async () => (await progress(id)).progress.completed >= atPause + 2, 100_000, 500);
      await http().post(`/campaigns/${id}/cancel`).set(alice).expect(200);
      await noneInProgress(id);
      const atCancel = (await dialsTo(phones)).length;
      await nothingLeftToDial(id);
      expect((await dialsTo(phones)).length).toBe(atCancel);
      const cancelled = await progress(id);
      expect(cancelled.status).toBe('cancelled');
      expect(atCancel).toBeLessThan(12);
      const p = cancelled.progress;
      expect(p.pending + p.not_reached + p.in_progress + p.completed + p.failed + p.skipped + p.exhausted).toBe(12);
      expect(p.completed).toBe(atCancel);
      await http().post(`/campaigns/${id}/resume`).set(alice).expect(409);
    }, 240_000);

    it('two instances working one campaign never call a contact twice for one attempt', async () => {
      const second = await createTestApp({ config: { ...testConfig({ CAMPAIGN_TICK_INTERVAL_MS: '2000', SCHEDULER_JOB_POLL_INTERVAL_MS: '2000', SCHEDULER_POLL_INTERVAL_MS: '500' }), mongodbUri: t.config.mongodbUri } });
      try {
        const id = await createCampaign({ max_attempts: 2, max_concurrent_calls: 10, retry_on: ['busy'], provider_options: { simulate_outcome: 'busy' } });
        const phones = Array.from({ length: 15 }, (_, i) => phone(4_500_000, i));
        await importJson(id, phones.map((p) => ({ phone: p }))).expect(200);
        await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
        // Besides both instances' Agenda ticks and event listeners, hammer the runner on both at once.
        const runners = [t.get<CampaignRunner>(CampaignRunner), second.get<CampaignRunner>(CampaignRunner)];
        const hammer = (async () => {
          for (let i = 0; i < 6; i++) await Promise.all(runners.flatMap((r) => [r.advance(id), r.advance(id, false)]));
        })();
        const done = await waitFor(async () => {
          const c = await progress(id);
          if (process.env.CAMPAIGN_TEST_DEBUG) console.log(JSON.stringify(c.progress));
          return settled(c) ? c : null;
        }, 200_000, 1000);
        await hammer;
        const outcomes = await outcomesOf(id);
        expect(`${done.progress.exhausted} of ${done.progress.total} exhausted\n${outcomes.join('\n')}`).toMatch(/^15 of 15 /);
        const logs = await dialsTo(phones);
        const perPhone = new Map<string, number>();
        for (const l of logs) perPhone.set(l.phone, (perPhone.get(l.phone) ?? 0) + 1);
        expect([...perPhone.values()]).toEqual(phones.map(() => 2));
        const attempts = await db().collection('campaign_attempts').find({ campaign_id: id }).toArray();
        expect(attempts).toHaveLength(30);
        const schedules = await db().collection('call_schedules').find({ campaign_id: id }).toArray();
        expect(schedules).toHaveLength(30);
      } finally {
        await second.close();
      }
    }, 300_000);
  });
});
