import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { CampaignRunner } from '../../src/campaign/campaign-runner.service';
import { CampaignTickJob } from '../../src/campaign/campaign-tick.job';
import { AGENDA_COLLECTION } from '../../src/jobs/job-queue.service';
import { InternalScheduleService } from '../../src/schedule/internal-schedule.service';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const alice = bearer(tokenFor('cancel-alice', { tenantId: 'tenant-campaign-cancel' }));
const ALL_DAY = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [] };

// A cancel withdraws the campaign's attempts that were not dialed yet, one by one. A second cancel is
// refused, so one whose withdrawal stopped part-way must be finished by the campaign's tick, which the cancel
// armed before it changed the campaign's status.
describe('a campaign cancel whose withdrawal stops part-way (e2e, real database)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());
  const db = () => t.get<Connection>(getConnectionToken());
  const schedulesOf = (id: string) => db().collection('call_schedules').find({ campaign_id: id }).toArray();

  beforeAll(async () => {
    // No jobs run here: attempts are launched by run-once and never dispatched, and the tick is run by hand.
    t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false' } });
  });
  afterAll(() => t.close());

  it('is finished by the tick: every undialed attempt withdrawn, its contact back to pending', async () => {
    const created = await http().post('/campaigns').set(alice).send({ name: 'Cancel part-way', calling_window: ALL_DAY, max_concurrent_calls: 5 }).expect(201);
    const id = created.body.campaign.id as string;
    const phones = ['+14155553101', '+14155553102', '+14155553103'];
    await http().post(`/campaigns/${id}/contacts`).set(alice).set('content-type', 'application/json').send(JSON.stringify(phones.map((phone) => ({ phone })))).expect(200);
    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
    await http().post(`/campaigns/${id}/run-once`).set(alice).expect(200);
    expect((await schedulesOf(id)).map((s) => s.status)).toEqual(['scheduled', 'scheduled', 'scheduled']);

    // The tick that start and run-once armed is gone (as after it ran): the cancel must arm its own.
    const ticks = () => db().collection(AGENDA_COLLECTION).find({ name: 'campaign.tick', 'data.campaign_id': id }).toArray();
    await db().collection(AGENDA_COLLECTION).deleteMany({ name: 'campaign.tick', 'data.campaign_id': id });
    const cancelledAt = Date.now();

    // The second withdrawal's write fails after its claim was taken, and the withdrawal stops there: the
    // cancel still answers (the campaign is cancelled), and two attempts are left scheduled.
    const repository = t.get<ScheduleRepository>(ScheduleRepository);
    const update = repository.updateIfVersion.bind(repository);
    let writes = 0;
    const failing = jest.spyOn(repository, 'updateIfVersion').mockImplementation((...args) => (++writes === 2 ? Promise.reject(new Error('connection lost')) : update(...args)));
    try {
      await http().post(`/campaigns/${id}/cancel`).set(alice).expect(200);
    } finally {
      failing.mockRestore();
    }
    expect(writes).toBe(2);
    expect((await schedulesOf(id)).map((s) => s.status).sort()).toEqual(['cancelled', 'scheduled', 'scheduled']);
    await http().post(`/campaigns/${id}/cancel`).set(alice).expect(409);

    // Armed 10 s out (Agenda runs on the wall clock): after the withdrawal the cancel itself runs.
    const armed = await ticks();
    expect(armed).toHaveLength(1);
    expect(armed[0].nextRunAt.getTime()).toBeGreaterThanOrEqual(cancelledAt + 10_000);
    // The tick's pass may be folded into a pass an attempt's end started meanwhile (it then runs right after).
    await t.get<CampaignTickJob>(CampaignTickJob).handle({ campaign_id: id });
    await waitFor(async () => (await schedulesOf(id)).every((s) => s.status === 'cancelled'), 10_000);
    const contacts = async () => ((await http().get(`/campaigns/${id}/contacts`).set(alice).expect(200)).body.contacts as Array<{ status: string }>).map((c) => c.status);
    await waitFor(async () => (await contacts()).every((status) => status === 'pending'), 10_000);
    expect(await contacts()).toEqual(['pending', 'pending', 'pending']);
  }, 60_000);

  it("withdraws an attempt whose schedule a pass creates after the cancel's withdrawal ran", async () => {
    const created = await http().post('/campaigns').set(alice).send({ name: 'Cancel mid-launch', calling_window: ALL_DAY, max_concurrent_calls: 5 }).expect(201);
    const id = created.body.campaign.id as string;
    await http().post(`/campaigns/${id}/contacts`).set(alice).set('content-type', 'application/json').send(JSON.stringify([{ phone: '+14155553201' }])).expect(200);
    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);
    // The pass has read the campaign as running and is about to create the attempt's schedule when the
    // cancel lands, and the cancel's withdrawal finds no schedule yet.
    const schedules = t.get<InternalScheduleService>(InternalScheduleService);
    const createOneTime = schedules.createOneTime.bind(schedules);
    const late = jest.spyOn(schedules, 'createOneTime').mockImplementationOnce(async (request) => {
      await http().post(`/campaigns/${id}/cancel`).set(alice).expect(200);
      return createOneTime(request);
    });
    try {
      // (Its outcome may be a pass folded into it afterwards, started by the withdrawal's event.)
      await t.get<CampaignRunner>(CampaignRunner).advance(id);
      expect(late).toHaveBeenCalledTimes(1);
    } finally {
      late.mockRestore();
    }
    expect((await schedulesOf(id)).map((s) => s.status)).toEqual(['cancelled']);
    const contacts = async () => ((await http().get(`/campaigns/${id}/contacts`).set(alice).expect(200)).body.contacts as Array<{ status: string }>).map((c) => c.status);
    await waitFor(async () => (await contacts()).every((status) => status === 'pending'), 10_000);
  }, 60_000);
});
