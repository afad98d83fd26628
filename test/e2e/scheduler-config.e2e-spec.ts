import { getConnectionToken } from '@nestjs/mongoose';
import { DateTime } from 'luxon';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { CampaignRunner } from '../../src/campaign/campaign-runner.service';
import { Clock } from '../../src/common/clock/clock';
import { SchedulerJobs } from '../../src/scheduler-config/scheduler-jobs';
import { createTestApp, TestApp } from '../utils/test-app';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const carol = bearer(tokenFor('carol'));
const dave = bearer(tokenFor('dave'));
const ALL_DAY = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [] };
const DAY = 86_400_000;

describe('daily batch rules (renewal auto-scheduler) on campaigns', () => {
  let t: TestApp;
  const clock = new TestClock();
  const http = () => request(t.app.getHttpServer());
  const db = () => t.get<Connection>(getConnectionToken());
  const today = (offsetDays = 0) => DateTime.fromJSDate(new Date(clock.now().getTime() + offsetDays * DAY), { zone: 'UTC' }).toISODate()!;
  const triggerNow = async () => (await http().post('/scheduler/trigger-now').set(carol).expect(200)).body.queued_count as number;
  const dials = async (phones: string[]) => db().collection('call_logs').countDocuments({ phone: { $in: phones } });
  const contactsOf = async (id: string) =>
    (await http().get(`/campaigns/${id}/contacts`).query({ limit: 100 }).set(carol).expect(200)).body.contacts as Array<{ phone: string; status: string; attempts: number }>;
  // One pass of the campaign, as its tick runs it (a pass already running here folds a new one into itself).
  const campaignPass = (id: string) =>
    waitFor(async () => {
      const result = await t.get<CampaignRunner>(CampaignRunner).advance(id);
      return result.outcome === 'folded_into_running_pass' ? null : result;
    }, 30_000, 50);

  beforeAll(async () => {
    clock.set(new Date());
    t = await createTestApp({ env: { CAMPAIGN_TICK_INTERVAL_MS: '1000' }, override: (b) => b.overrideProvider(Clock).useValue(clock) });
  });
  afterAll(() => t.close());

  it('keeps a per-tenant configuration with defaults, validation and its daily Agenda job', async () => {
    const initial = (await http().get('/scheduler/config').set(carol).expect(200)).body.config;
    expect(initial).toMatchObject({ enabled: true, daily_call_time: '10:00', timezone: 'UTC', max_calls_per_day: 50, skip_if_called_within_days: 7, updated_at: null });
    const bad = await http().put('/scheduler/config').set(carol).send({ daily_call_time: '25:00' }).expect(400);
    expect(bad.body).toMatchObject({ status: 'error', error_code: 'CAMPAIGN_006', details: { field: 'daily_call_time' } });
    expect((await http().put('/scheduler/config').set(carol).send({ timezone: 'Nowhere/City' }).expect(400)).body.error_code).toBe('SCHEDULE_002');
    expect((await http().put('/scheduler/config').set(carol).send({ max_calls_per_day: -1 }).expect(400)).body.error_code).toBe('CAMPAIGN_006');

    const put = await http()
      .put('/scheduler/config')
      .set(carol)
      .send({ daily_call_time: '09:30', timezone: 'Asia/Kolkata', max_calls_per_day: 3, skip_if_called_within_days: 3, retry_failed_after_hours: 24, max_retries_per_contact: 2 })
      .expect(200);
    expect(put.body.config).toMatchObject({ daily_call_time: '09:30', timezone: 'Asia/Kolkata', max_calls_per_day: 3, max_concurrent_calls: 5 });
    expect((await http().get('/scheduler/config').set(dave).expect(200)).body.config.daily_call_time).toBe('10:00');

    const job = await db().collection('agenda_jobs').findOne({ name: 'scheduler.daily_run', 'data.tenant_id': 'carol' });
    const local = DateTime.fromJSDate(job!.nextRunAt, { zone: 'Asia/Kolkata' });
    expect([local.hour, local.minute]).toEqual([9, 30]);
    expect(job!.nextRunAt.getTime() - Date.now()).toBeGreaterThan(0);
    expect(job!.nextRunAt.getTime() - Date.now()).toBeLessThanOrEqual(DAY);
    const stats = (await http().get('/scheduler/stats').set(carol).expect(200)).body;
    const statsNext = DateTime.fromISO(stats.next_run_at, { zone: 'Asia/Kolkata' });
    expect([statsNext.hour, statsNext.minute]).toEqual([9, 30]);
    expect(stats).toMatchObject({ scheduler_enabled: true, timezone: 'Asia/Kolkata', scheduled_today: 0 });
  });

  it('selects due contacts up to the daily cap, never twice a day, skipping recently called ones; trigger-now, stats and cleanup', async () => {
    await http().put('/scheduler/config').set(carol).send({ timezone: 'UTC', max_calls_per_day: 3, skip_if_called_within_days: 3, retry_failed_after_hours: 24, max_retries_per_contact: 2 }).expect(200);
    const campaign = (
      await http()
        .post('/campaigns')
        .set(carol)
        .send({ name: 'Renewals', calling_window: ALL_DAY, call_days_before: 7, max_attempts: 3, retry_on: ['busy'], provider_options: { simulate_outcome: 'busy' } })
        .expect(201)
    ).body.campaign.id;
    const due = [0, 1, 2, 3].map((i) => `+1415700000${i}`);
    const later = '+14157000009';
    const overdue = '+14157000008';
    const rows = [
      ...due.map((phone, i) => ({ phone, due_date: today(4 + i) })),
      { phone: later, due_date: today(20) },
      { phone: overdue, due_date: today(-2) },
      { phone: '+14157000007' },
    ];
    await http().post(`/campaigns/${campaign}/contacts`).set(carol).set('content-type', 'application/json').send(JSON.stringify(rows)).expect(200);
    await http().post(`/campaigns/${campaign}/start`).set(carol).expect(200);
    // A due-date campaign dials nobody until the daily batch releases them: a pass of the campaign (what
    // its tick runs, and the only way it starts an attempt) starts none, and no contact has one.
    expect((await campaignPass(campaign)).started).toBe(0);
    expect((await contactsOf(campaign)).filter((c) => c.attempts > 0)).toEqual([]);
    expect(await dials([...due, later, overdue])).toBe(0);

    // Day 1: three of the four due contacts (the daily cap), soonest due first.
    expect(await triggerNow()).toBe(3);
    await waitFor(async () => (await dials(due)) === 3, 30_000, 200);
    await waitFor(async () => (await contactsOf(campaign)).filter((c) => c.status === 'not_reached').length === 3, 30_000, 200);
    expect(await triggerNow()).toBe(0);
    const stats = (await http().get('/scheduler/stats').set(carol).expect(200)).body;
    expect(stats).toMatchObject({ today: today(), scheduled_today: 3, completed_today: 0, failed_today: 3, pending_today: 0, scheduler_enabled: true });

    // Day 2: the fourth is released; the three called yesterday are within skip_if_called_within_days.
    clock.advance(DAY);
    expect(await triggerNow()).toBe(1);
    await waitFor(async () => (await dials(due)) === 4, 30_000, 200);
    expect(await triggerNow()).toBe(0);

    // Day 4: three days since the first calls, their retries are due (within max_retries_per_contact); the
    // fourth, called two days ago, is still within skip_if_called_within_days.
    clock.advance(2 * DAY);
    expect(await triggerNow()).toBe(3);
    await waitFor(async () => (await dials(due)) === 7, 30_000, 200);
    const byPhone = new Map((await contactsOf(campaign)).map((c) => [c.phone, c]));
    expect(due.map((p) => byPhone.get(p)!.attempts)).toEqual([2, 2, 2, 1]);
    expect(byPhone.get(later)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(byPhone.get(overdue)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await dials([later, overdue])).toBe(0);

    // Cleanup: nothing is 30 days old yet; 31 days later the batch records and settled attempts go.
    expect((await http().delete('/scheduler/cleanup').query({ days: 30 }).set(carol).expect(200)).body.deleted).toEqual({ batch_entries: 0, campaign_attempts: 0 });
    expect((await http().delete('/scheduler/cleanup').query({ days: 0 }).set(carol).expect(400)).body.error_code).toBe('CAMPAIGN_006');
    await waitFor(async () => (await contactsOf(campaign)).every((c) => c.status !== 'in_progress'), 30_000, 200);
    // Each attempt's settlement is written after its contact's: waited for, not assumed.
    await waitFor(async () => (await db().collection('campaign_attempts').countDocuments({ campaign_id: campaign, state: 'settled' })) === 7, 30_000, 200);
    clock.advance(31 * DAY);
    const cleaned = (await http().delete('/scheduler/cleanup').query({ days: 30 }).set(carol).expect(200)).body;
    expect(cleaned.deleted).toEqual({ batch_entries: 7, campaign_attempts: 7 });
    expect(await db().collection('daily_batch_entries').countDocuments({ tenant_id: 'carol' })).toBe(0);
    expect(await db().collection('campaign_attempts').countDocuments({ campaign_id: campaign })).toBe(0);
  });

  it("holds the tenant's due-date campaigns together to the config's max_concurrent_calls", async () => {
    clock.set(new Date());
    const erin = bearer(tokenFor('erin'));
    await http().put('/scheduler/config').set(erin).send({ timezone: 'UTC', max_calls_per_day: 20, max_concurrent_calls: 1 }).expect(200);
    const phones: string[] = [];
    for (const name of ['Renewals', 'Reminders']) {
      const id = (await http().post('/campaigns').set(erin).send({ name, calling_window: ALL_DAY, call_days_before: 3, max_concurrent_calls: 5, provider_options: { simulate_duration: 1 } }).expect(201)).body.campaign.id;
      const rows = [0, 1, 2].map((i) => ({ phone: `+1415720${phones.length}${i}00`, due_date: today(1) }));
      phones.push(...rows.map((r) => r.phone));
      await http().post(`/campaigns/${id}/contacts`).set(erin).set('content-type', 'application/json').send(JSON.stringify(rows)).expect(200);
      await http().post(`/campaigns/${id}/start`).set(erin).expect(200);
    }
    expect((await http().post('/scheduler/trigger-now').set(erin).expect(200)).body.queued_count).toBe(6);
    await waitFor(async () => (await db().collection('call_logs').countDocuments({ phone: { $in: phones }, status: 'completed' })) === 6, 60_000, 200);
    // Six calls across two campaigns of five seats each, one at a time: each starts after the previous ended.
    const logs = (await db().collection('call_logs').find({ phone: { $in: phones } }).sort({ timestamp: 1 }).toArray()) as unknown as Array<{ timestamp: Date; timeline: Array<{ received_at: Date }> }>;
    expect(logs).toHaveLength(6);
    for (let i = 1; i < logs.length; i++) {
      const previousEnd = Math.max(...logs[i - 1].timeline.map((e) => e.received_at.getTime()));
      expect(logs[i].timestamp.getTime()).toBeGreaterThanOrEqual(previousEnd);
    }
  });

  it('the daily job runs the selection at daily_call_time and re-arms for the next day', async () => {
    clock.set(new Date());
    await http().put('/scheduler/config').set(dave).send({ daily_call_time: '06:00', timezone: 'America/New_York', max_calls_per_day: 10 }).expect(200);
    const campaign = (await http().post('/campaigns').set(dave).send({ name: 'Reminders', calling_window: ALL_DAY, call_days_before: 1 }).expect(201)).body.campaign.id;
    const phone = '+14157100001';
    await http().post(`/campaigns/${campaign}/contacts`).set(dave).set('content-type', 'text/csv').send(`phone,due_date\n${phone},${DateTime.fromJSDate(clock.now(), { zone: 'America/New_York' }).plus({ days: 1 }).toISODate()}\n`).expect(200);
    await http().post(`/campaigns/${campaign}/start`).set(dave).expect(200);
    const outcome = await t.get<SchedulerJobs>(SchedulerJobs).handleDailyRun({ tenant_id: 'dave' });
    expect(outcome.outcome).toBe('queued=1');
    const next = DateTime.fromJSDate(outcome.nextRunAt!, { zone: 'America/New_York' });
    expect([next.hour, next.minute]).toEqual([6, 0]);
    expect(outcome.nextRunAt!.getTime()).toBeGreaterThan(Date.now());
    await waitFor(async () => (await dials([phone])) === 1, 30_000, 200);
    await waitFor(async () => (await http().get(`/campaigns/${campaign}`).set(dave).expect(200)).body.campaign.progress.completed === 1, 30_000, 200);
    expect(await t.get<SchedulerJobs>(SchedulerJobs).handleDailyRun({ tenant_id: 'nobody-disabled' })).toMatchObject({ outcome: 'queued=0' });
    await http().put('/scheduler/config').set(dave).send({ enabled: false }).expect(200);
    expect(await t.get<SchedulerJobs>(SchedulerJobs).handleDailyRun({ tenant_id: 'dave' })).toEqual({ outcome: 'disabled', nextRunAt: null });
    expect((await http().get('/scheduler/stats').set(dave).expect(200)).body).toMatchObject({ scheduler_enabled: false, next_run_at: null, scheduled_today: 1, completed_today: 1 });
  });
});
