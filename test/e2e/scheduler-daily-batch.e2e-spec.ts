import { getConnectionToken } from '@nestjs/mongoose';
import { DateTime } from 'luxon';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { Clock } from '../../src/common/clock/clock';
import { SchedulerJobs } from '../../src/scheduler-config/scheduler-jobs';
import { createTestApp, TestApp } from '../utils/test-app';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const ALL_DAY = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [] };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('daily batch: default arming, cron schedule, exact due day, contact status, trigger-now overrides', () => {
  let t: TestApp;
  const clock = new TestClock();
  const http = () => request(t.app.getHttpServer());
  const db = () => t.get<Connection>(getConnectionToken());
  const day = (offsetDays: number, zone = 'UTC') => DateTime.fromJSDate(clock.now(), { zone }).plus({ days: offsetDays }).toISODate()!;
  const dials = async (phones: string[]) => db().collection('call_logs').countDocuments({ phone: { $in: phones } });
  const dailyJob = (tenant: string) => db().collection('agenda_jobs').findOne({ name: 'scheduler.daily_run', 'data.tenant_id': tenant });
  // The test clock's instant that the daily job's wall-clock nextRunAt stands for.
  const clockTimeOf = (wall: Date) => new Date(wall.getTime() + (clock.now().getTime() - Date.now()));

  async function dueDateCampaign(auth: Record<string, string>, settings: Record<string, unknown>, rows: Array<Record<string, string>>): Promise<string> {
    const id = (await http().post('/campaigns').set(auth).send({ name: 'Due', calling_window: ALL_DAY, ...settings }).expect(201)).body.campaign.id as string;
    await http().post(`/campaigns/${id}/contacts`).set(auth).set('content-type', 'application/json').send(JSON.stringify(rows)).expect(200);
    await http().post(`/campaigns/${id}/start`).set(auth).expect(200);
    return id;
  }

  beforeAll(async () => {
    // Away from 10:00 UTC, so no tenant's default daily job comes due unless a test means it to.
    clock.set(new Date('2030-03-04T13:00:00Z'));
    t = await createTestApp({ env: { CAMPAIGN_TICK_INTERVAL_MS: '1000' }, override: (b) => b.overrideProvider(Clock).useValue(clock) });
  });
  afterAll(() => t.close());

  it('a fresh service with one due-date campaign and no PUT /scheduler/config calls its contacts at the default time', async () => {
    const auth = bearer(tokenFor('fresh-tenant'));
    clock.set(new Date('2030-03-05T09:59:40Z'));
    const phone = '+14157300001';
    await dueDateCampaign(auth, { call_days_before: 7 }, [{ phone, due_date: day(3) }]);
    expect((await http().get('/scheduler/config').set(auth).expect(200)).body.config).toMatchObject({ enabled: true, daily_call_time: '10:00', updated_at: null });

    // Starting the campaign armed the tenant's daily job for 10:00 today (UTC, the default), not tomorrow.
    const armed = await dailyJob('fresh-tenant');
    expect(armed).not.toBeNull();
    expect(clockTimeOf(armed!.nextRunAt as Date).toISOString()).toMatch(/^2030-03-05T(09:59:5\d|10:00:0\d)/);
    expect(await dials([phone])).toBe(0);

    // The job fires by itself at 10:00 on the injectable clock and the contact is called.
    await waitFor(async () => (await dials([phone])) === 1, 60_000, 200);
    const log = await db().collection('call_logs').findOne({ phone });
    expect((log!.timestamp as Date).getTime()).toBeGreaterThanOrEqual(new Date('2030-03-05T10:00:00Z').getTime());
    // ...and is re-armed for 10:00 tomorrow. Agenda saves the new run time after the handler returns; under a
    // full CI run (every stage at once) that save, or a retry of a handler the busy database failed, once
    // took longer than 30 s, so this waits as long as the dial itself may.
    await waitFor(async () => {
      const job = await dailyJob('fresh-tenant');
      return job && clockTimeOf(job.nextRunAt as Date).toISOString().startsWith('2030-03-06T10:00:0') ? job : null;
    }, 90_000, 200);
    const stats = (await http().get('/scheduler/stats').set(auth).expect(200)).body;
    expect(stats).toMatchObject({ today: '2030-03-05', scheduled_today: 1, total_pending: expect.any(Number), next_run_at: '2030-03-06T10:00:00.000Z' });
  }, 240_000);

  it('a restarted service arms the job of a tenant whose due-date campaign runs but has no job', async () => {
    clock.set(new Date('2030-03-05T13:00:00Z'));
    const auth = bearer(tokenFor('restart-tenant'));
    await dueDateCampaign(auth, { call_days_before: 7 }, [{ phone: '+14157300101', due_date: day(3) }]);
    await db().collection('agenda_jobs').deleteMany({ name: 'scheduler.daily_run', 'data.tenant_id': 'restart-tenant' });
    await t.get<SchedulerJobs>(SchedulerJobs).onApplicationBootstrap();
    const job = await dailyJob('restart-tenant');
    expect(clockTimeOf(job!.nextRunAt as Date).toISOString()).toMatch(/^2030-03-06T(09:59:5\d|10:00:0\d)/);
  }, 180_000);

  it('runs on a cron expression in the tenant timezone (weekdays at 9, or twice a day); a bad one is refused whole', async () => {
    const auth = bearer(tokenFor('cron-tenant'));
    // Friday 2030-03-08 10:00 in New York.
    clock.set(new Date('2030-03-08T15:00:00Z'));
    const put = await http().put('/scheduler/config').set(auth).send({ cron_schedule: '0 9 * * 1-5', timezone: 'America/New_York' }).expect(200);
    expect(put.body.config).toMatchObject({ cron_schedule: '0 9 * * 1-5', timezone: 'America/New_York' });
    const monday = DateTime.fromISO('2030-03-11T09:00', { zone: 'America/New_York' }).toUTC().toISO();
    expect((await http().get('/scheduler/stats').set(auth).expect(200)).body.next_run_at).toBe(monday);
    const job = await dailyJob('cron-tenant');
    expect(Math.abs(clockTimeOf(job!.nextRunAt as Date).getTime() - new Date(monday!).getTime())).toBeLessThan(5000);

    // The run re-arms for the next firing of the expression.
    const phone = '+14157300201';
    await dueDateCampaign(auth, { call_days_before: 3 }, [{ phone, due_date: day(1, 'America/New_York') }]);
    const run = await t.get<SchedulerJobs>(SchedulerJobs).handleDailyRun({ tenant_id: 'cron-tenant' });
    expect(run.outcome).toBe('queued=1');
    expect(Math.abs(clockTimeOf(run.nextRunAt!).getTime() - new Date(monday!).getTime())).toBeLessThan(5000);
    await waitFor(async () => (await dials([phone])) === 1, 30_000, 200);

    await http().put('/scheduler/config').set(auth).send({ cron_schedule: '0 9,15 * * *' }).expect(200);
    const afternoon = DateTime.fromISO('2030-03-08T15:00', { zone: 'America/New_York' }).toUTC().toISO();
    expect((await http().get('/scheduler/stats').set(auth).expect(200)).body.next_run_at).toBe(afternoon);

    for (const cron of ['not a cron', '0 0 31 2 *', '61 * * * *']) {
      const bad = await http().put('/scheduler/config').set(auth).send({ cron_schedule: cron, max_calls_per_day: 7 }).expect(400);
      expect(bad.body).toMatchObject({ status: 'error', error_code: 'SCHEDULE_005', details: { field: 'cron_schedule' }, timestamp: expect.any(String) });
    }
    expect((await http().put('/scheduler/config').set(auth).send({ cron_schedule: 5 }).expect(400)).body).toMatchObject({ status: 'error', details: { field: 'cron_schedule' } });
    // Nothing of the refused bodies was saved.
    expect((await http().get('/scheduler/config').set(auth).expect(200)).body.config).toMatchObject({ cron_schedule: '0 9,15 * * *', max_calls_per_day: 50 });

    // null returns to daily_call_time.
    const back = await http().put('/scheduler/config').set(auth).send({ cron_schedule: null }).expect(200);
    expect(back.body.config.cron_schedule).toBeNull();
    expect((await http().get('/scheduler/stats').set(auth).expect(200)).body.next_run_at).toBe(DateTime.fromISO('2030-03-09T10:00', { zone: 'America/New_York' }).toUTC().toISO());
  }, 180_000);

  it('due-date mode "exactly" selects only contacts due in exactly N days', async () => {
    clock.set(new Date('2030-03-12T13:00:00Z'));
    const auth = bearer(tokenFor('exact-tenant'));
    const [today, tomorrow, later] = ['+14157300301', '+14157300302', '+14157300303'];
    const id = await dueDateCampaign(auth, { call_days_before: 1, due_date_match: 'exactly' }, [
      { phone: today, due_date: day(0) },
      { phone: tomorrow, due_date: day(1) },
      { phone: later, due_date: day(2) },
    ]);
    expect((await http().get(`/campaigns/${id}`).set(auth).expect(200)).body.campaign).toMatchObject({ call_days_before: 1, due_date_match: 'exactly' });
    expect((await http().post('/scheduler/trigger-now').set(auth).expect(200)).body.queued_count).toBe(1);
    await waitFor(async () => (await dials([tomorrow])) === 1, 30_000, 200);
    expect(await dials([today, later])).toBe(0);

    // "within" (the default) takes today to today+N.
    const within = ['+14157300311', '+14157300312', '+14157300313'];
    await dueDateCampaign(auth, { call_days_before: 1 }, within.map((phone, i) => ({ phone, due_date: day(i) })));
    expect((await http().post('/scheduler/trigger-now').set(auth).expect(200)).body.queued_count).toBe(2);
    await waitFor(async () => (await dials(within.slice(0, 2))) === 2, 30_000, 200);
    expect(await dials([within[2]])).toBe(0);

    const bad = await http().post('/campaigns').set(auth).send({ name: 'x', call_days_before: 1, due_date_match: 'on' }).expect(400);
    expect(bad.body).toMatchObject({ status: 'error', error_code: 'CAMPAIGN_003', details: { field: 'due_date_match' } });
    expect((await http().post('/campaigns').set(auth).send({ name: 'x', due_date_match: 'exactly' }).expect(400)).body).toMatchObject({ error_code: 'CAMPAIGN_003', details: { field: 'due_date_match' } });
    expect((await http().get('/campaigns').query({ limit: 100 }).set(auth).expect(200)).body.total).toBe(2);
  }, 180_000);

  it('a campaign requiring a contact status releases only contacts that carry it (seed 002: CONFIRMED appointments, 1 day before)', async () => {
    clock.set(new Date('2030-03-13T13:00:00Z'));
    const auth = bearer(tokenFor('status-tenant'));
    const [confirmed, tentative, none] = ['+14157300401', '+14157300402', '+14157300403'];
    const id = (await http().post('/campaigns').set(auth).send({ name: 'Reminders', calling_window: ALL_DAY, call_days_before: 1, due_date_match: 'exactly', required_contact_status: 'CONFIRMED' }).expect(201)).body.campaign.id;
    const csv = `phone,due_date,contact_status\n${confirmed},${day(1)},CONFIRMED\n${tentative},${day(1)},TENTATIVE\n${none},${day(1)},\n`;
    expect((await http().post(`/campaigns/${id}/contacts`).set(auth).set('content-type', 'text/csv').send(csv).expect(200)).body.accepted).toBe(3);
    await http().post(`/campaigns/${id}/start`).set(auth).expect(200);
    const listed = (await http().get(`/campaigns/${id}/contacts`).set(auth).expect(200)).body.contacts as Array<{ phone: string; contact_status: string | null }>;
    expect(Object.fromEntries(listed.map((c) => [c.phone, c.contact_status]))).toEqual({ [confirmed]: 'CONFIRMED', [tentative]: 'TENTATIVE', [none]: null });

    expect((await http().post('/scheduler/trigger-now').set(auth).expect(200)).body.queued_count).toBe(1);
    await waitFor(async () => (await dials([confirmed])) === 1, 30_000, 200);
    expect(await dials([tentative, none])).toBe(0);

    const bad = await http().post('/campaigns').set(auth).send({ name: 'x', required_contact_status: 'CONFIRMED' }).expect(400);
    expect(bad.body).toMatchObject({ status: 'error', error_code: 'CAMPAIGN_003', details: { field: 'required_contact_status' } });
    expect((await http().post('/campaigns').set(auth).send({ name: 'x', call_days_before: 1, required_contact_status: '' }).expect(400)).body.details.field).toBe('required_contact_status');
    const longStatus = JSON.stringify([{ phone: '+14157300404', due_date: day(1), contact_status: 'X'.repeat(65) }]);
    const rejected = await http().post(`/campaigns/${id}/contacts`).set(auth).set('content-type', 'application/json').send(longStatus).expect(200);
    expect(rejected.body).toMatchObject({ accepted: 0 });
    expect((await http().get('/campaigns').query({ limit: 100 }).set(auth).expect(200)).body.total).toBe(1);
  }, 180_000);

  it("days_before_due (seed 001's days_before_expiry) replaces each due-date campaign's window", async () => {
    clock.set(new Date('2030-03-15T13:00:00Z'));
    const auth = bearer(tokenFor('window-tenant'));
    const phones = ['+14157300601', '+14157300602', '+14157300603'];
    await dueDateCampaign(auth, { call_days_before: 1 }, phones.map((phone, i) => ({ phone, due_date: day([1, 4, 9][i]) })));
    for (const value of [-1, 367, 'four']) {
      const bad = await http().put('/scheduler/config').set(auth).send({ days_before_due: value, max_calls_per_day: 1 }).expect(400);
      expect(bad.body).toMatchObject({ status: 'error', error_code: 'CAMPAIGN_006', details: { field: 'days_before_due' } });
    }
    expect((await http().get('/scheduler/config').set(auth).expect(200)).body.config).toMatchObject({ days_before_due: null, max_calls_per_day: 50 });
    await http().put('/scheduler/config').set(auth).send({ days_before_due: 4 }).expect(200);
    expect((await http().post('/scheduler/trigger-now').set(auth).expect(200)).body.queued_count).toBe(2);
    await waitFor(async () => (await dials(phones.slice(0, 2))) === 2, 30_000, 200);
    expect(await dials([phones[2]])).toBe(0);
  }, 180_000);

  it('trigger-now honours days and max_calls', async () => {
    clock.set(new Date('2030-03-14T13:00:00Z'));
    const auth = bearer(tokenFor('trigger-tenant'));
    const phones = ['+14157300501', '+14157300502', '+14157300503', '+14157300504'];
    await dueDateCampaign(auth, { call_days_before: 1 }, phones.map((phone, i) => ({ phone, due_date: day([1, 3, 5, 6][i]) })));
    for (const query of [{ days: -1 }, { days: 'x' }, { max_calls: 0 }, { max_calls: 1.5 }]) {
      const bad = await http().post('/scheduler/trigger-now').query(query).set(auth).expect(400);
      expect(bad.body).toMatchObject({ status: 'error', error_code: 'CAMPAIGN_006', details: { field: Object.keys(query)[0] } });
    }
    expect((await http().get('/scheduler/stats').set(auth).expect(200)).body.scheduled_today).toBe(0);

    // days=5 widens the campaign's 1-day window; max_calls=2 stops after the two soonest.
    expect((await http().post('/scheduler/trigger-now').query({ days: 5, max_calls: 2 }).set(auth).expect(200)).body.queued_count).toBe(2);
    await waitFor(async () => (await dials(phones.slice(0, 2))) === 2, 30_000, 200);
    expect((await http().post('/scheduler/trigger-now').query({ days: 5 }).set(auth).expect(200)).body.queued_count).toBe(1);
    await waitFor(async () => (await dials([phones[2]])) === 1, 30_000, 200);
    expect(await dials([phones[3]])).toBe(0);
    expect((await http().post('/scheduler/trigger-now').set(auth).expect(200)).body.queued_count).toBe(0);
    clock.advance(DAY);
  }, 180_000);
});
