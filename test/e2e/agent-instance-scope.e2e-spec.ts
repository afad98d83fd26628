import request from 'supertest';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

// A token's agent_instance_ids claim: it sees and writes only schedules (and call logs) of those agent
// instances, within its tenant.
describe('tokens scoped to agent instances (e2e)', () => {
  let t: TestApp;
  const tenantId = 'scope-tenant';
  const whole = bearer(tokenFor('ops', { tenantId }));
  const onlyA = bearer(tokenFor('agent-a-bot', { tenantId, agentInstanceIds: ['agent-A'] }));
  const aAndC = bearer(tokenFor('agent-ac-bot', { tenantId, agentInstanceIds: ['agent-A', 'agent-C'] }));
  const later = () => new Date(Date.now() + 3 * 86_400_000).toISOString();
  const http = () => request(t.app.getHttpServer());
  const create = async (auth: Record<string, string>, body: Record<string, unknown>) =>
    (await http().post('/schedule/').set(auth).send({ phone: '+14155552671', scheduled_time: later(), ...body }).expect(200)).body.schedule_id as string;
  let ofA: string;
  let ofB: string;
  let unassigned: string;

  beforeAll(async () => {
    t = await createTestApp();
    ofA = await create(whole, { agent_instance_id: 'agent-A', description: 'A' });
    ofB = await create(whole, { agent_instance_id: 'agent-B', description: 'B' });
    unassigned = await create(whole, { description: 'none' });
  });
  afterAll(async () => {
    await t.close();
  });

  it("refuses to create a schedule for another agent instance, in the standard error body, and writes nothing", async () => {
    const before = (await http().get('/schedule').set(whole).expect(200)).body.total;
    const res = await http().post('/schedule/').set(onlyA).send({ phone: '+14155552672', scheduled_time: later(), agent_instance_id: 'agent-B' }).expect(403);
    expect(res.body).toEqual({
      status: 'error',
      message: 'Agent instance not allowed for this token',
      error_code: 'AUTH_006',
      details: { field: 'agent_instance_id', issue: 'This token may act only for agent instance agent-A' },
      timestamp: expect.any(String),
      error_id: expect.any(String),
    });
    expect((await http().get('/schedule').set(whole).expect(200)).body.total).toBe(before);
  });

  it("gives a schedule the token's only agent instance by default, and asks a token with several to name one", async () => {
    const id = await create(onlyA, { description: 'defaulted' });
    expect((await http().get(`/schedule/${id}`).set(whole).expect(200)).body.schedule.agent_instance_id).toBe('agent-A');
    const res = await http().post('/schedule/').set(aAndC).send({ phone: '+14155552673', scheduled_time: later() }).expect(400);
    expect(res.body).toMatchObject({ status: 'error', error_code: 'VALIDATION_002', details: { field: 'agent_instance_id' } });
    const ofC = await create(aAndC, { agent_instance_id: 'agent-C' });
    expect((await http().get(`/schedule/${ofC}`).set(aAndC).expect(200)).body.schedule.agent_instance_id).toBe('agent-C');
  });

  it("lists and reads only its agent instances' schedules; the others do not exist for it", async () => {
    const listed = (await http().get('/schedule?limit=500').set(onlyA).expect(200)).body;
    const agents = new Set(listed.schedules.map((s: { agent_instance_id: string }) => s.agent_instance_id));
    expect([...agents]).toEqual(['agent-A']);
    expect(listed.schedules.map((s: { id: string }) => s.id)).toContain(ofA);
    expect(listed.total).toBe(listed.schedules.length);
    const active = (await http().get('/schedule/active?limit=500').set(onlyA).expect(200)).body.active_schedules.map((a: { schedule_id: string }) => a.schedule_id);
    expect(active).toContain(ofA);
    expect(active).not.toContain(ofB);
    expect(active).not.toContain(unassigned);
    for (const id of [ofB, unassigned]) {
      expect((await http().get(`/schedule/${id}`).set(onlyA).expect(404)).body.error_code).toBe('SCHEDULE_009');
      await http().post(`/schedule/${id}/pause`).set(onlyA).expect(404);
      await http().delete(`/schedule/${id}`).set(onlyA).expect(404);
    }
    const everything = (await http().get('/schedule?limit=500').set(whole).expect(200)).body.schedules.map((s: { id: string }) => s.id);
    expect(everything).toEqual(expect.arrayContaining([ofA, ofB, unassigned]));
  });

  it('cannot move its schedule to another agent instance', async () => {
    const res = await http().put(`/schedule/${ofA}`).set(onlyA).send({ agent_instance_id: 'agent-B' }).expect(403);
    expect(res.body).toMatchObject({ error_code: 'AUTH_006', details: { field: 'agent_instance_id' } });
    expect((await http().get(`/schedule/${ofA}`).set(whole).expect(200)).body.schedule.agent_instance_id).toBe('agent-A');
    await http().put(`/schedule/${ofA}`).set(onlyA).send({ description: 'still A' }).expect(200);
  });

  it('rejects bulk items for other agent instances one by one', async () => {
    const res = await http()
      .post('/schedule/bulk')
      .set(onlyA)
      .send({ schedules: [{ phone: '+14155552674', scheduled_time: later() }, { phone: '+14155552675', scheduled_time: later(), agent_instance_id: 'agent-B' }] })
      .expect(201);
    expect(res.body.results).toEqual([
      expect.objectContaining({ index: 0, status: 'created' }),
      expect.objectContaining({ index: 1, status: 'rejected', error_code: 'AUTH_006', field: 'agent_instance_id' }),
    ]);
  });

  it("shows only its agent instances' call logs and counts only them", async () => {
    const soon = () => new Date(Date.now() + 1000).toISOString();
    const dialA = await create(whole, { phone: '+14155550101', scheduled_time: soon(), agent_instance_id: 'agent-A' });
    const dialB = await create(whole, { phone: '+14155550102', scheduled_time: soon(), agent_instance_id: 'agent-B' });
    await waitFor(async () => {
      const logs = (await http().get('/schedule/tracking/logs').set(whole).expect(200)).body.logs as Array<{ schedule_id: string }>;
      return [dialA, dialB].every((id) => logs.some((l) => l.schedule_id === id));
    }, 20_000);
    const seenByA = (await http().get('/schedule/tracking/logs').set(onlyA).expect(200)).body;
    expect(seenByA.logs.map((l: { schedule_id: string }) => l.schedule_id)).toEqual([dialA]);
    expect(seenByA.logs[0].agent_instance_id).toBe('agent-A');
    expect((await http().get('/schedule/tracking/stats').set(onlyA).expect(200)).body.total_calls).toBe(1);
    expect((await http().get('/schedule/tracking/stats').set(whole).expect(200)).body.total_calls).toBe(2);
  });

  it('refuses a token whose agent_instance_ids claim is not a list of ids', async () => {
    for (const claim of ['agent-A', [], [42]]) {
      const res = await http().get('/schedule').set(bearer(tokenFor('bad', { tenantId, agentInstanceIds: claim }))).expect(401);
      expect(res.body).toMatchObject({ error_code: 'AUTH_002', details: { field: 'Authorization', issue: expect.stringContaining('agent_instance_ids') } });
    }
  });
});
