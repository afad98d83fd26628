import request from 'supertest';
import { Clock } from '../../src/common/clock/clock';
import { FakeAgentBackendServer } from '../fakes/fake-agent-backend.server';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const TOKEN = 'internal-backend-token-tasks-0123456789';
const TASKS_TOKEN = 'seed-000-client-token-0123456789';

// Seed 000's time format: whole seconds, UTC, "Z".
const seedTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

// Seed 000 (Calleroo scheduler) README, "Create a Scheduled Task": the body verbatim; only runAtUtc (a future
// time) and backendBaseUrl (the local fake backend) are replaced.
const createExample = (runAtUtc: string, backendBaseUrl: string) => ({
  runAtUtc,
  backendBaseUrl,
  agentType: 'STOCK_CHECKER',
  conversationId: 'conv-123',
  mode: 'DIRECT',
  payload: {
    placeId: 'ChIJ...',
    phoneE164: '+61731824583',
    scriptPreview: "Hello, I'm calling to check if you have...",
    slots: { product: 'BBQ Chicken' },
  },
});

// "Example: Schedule a Stock Check Call" (the curl body); conversationId is "test-$(date +%s)" there.
const curlExample = (runAtUtc: string, backendBaseUrl: string, epochSeconds: number) => ({
  runAtUtc,
  backendBaseUrl,
  agentType: 'STOCK_CHECKER',
  conversationId: `test-${epochSeconds}`,
  mode: 'DIRECT',
  payload: {
    placeId: 'ChIJN1t_tDeuEmsRUsoyG83frY4',
    phoneE164: '+61731824583',
    scriptPreview: 'Hello, I am calling on behalf of a customer to check if you have BBQ chickens available today.',
    slots: { product: 'BBQ Chicken' },
  },
});

// "Execution Modes / BRIEF_START": its mode and payload verbatim, in the create body.
const briefStartExample = {
  mode: 'BRIEF_START',
  payload: {
    place: {
      placeId: 'ChIJ...',
      businessName: 'Red Rooster',
      phoneE164: '+61731824583',
    },
    slots: { product: 'BBQ Chicken' },
    disclosure: { nameShare: false, phoneShare: false },
    fallbacks: { askETA: true },
  },
};

describe('seed 000 task API (/tasks) over schedules, against a local agent backend', () => {
  const backend = new FakeAgentBackendServer(TOKEN);
  const clock = new TestClock();
  const auth = bearer(tokenFor('calleroo-client', { tenantId: 'calleroo' }));
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());
  const task = async (id: string) => (await http().get(`/tasks/${id}`).set(auth).expect(200)).body;
  // The sweeper runs on the injectable clock: moving it to the run time makes the task due.
  const runDue = async (id: string, runAt: Date, until: string[]) => {
    clock.set(runAt);
    return waitFor(async () => ((body) => (until.includes(body.status) ? body : null))(await task(id)), 20_000);
  };

  beforeAll(async () => {
    await backend.start();
    t = await createTestApp({
      config: testConfig({ DEFAULT_BACKEND_BASE_URL: backend.url, BACKEND_INTERNAL_TOKEN: TOKEN, TASKS_API_TOKEN: TASKS_TOKEN, TASKS_API_TENANT_ID: 'calleroo' }),
      override: (b) => b.overrideProvider(Clock).useValue(clock),
    });
  });
  afterAll(async () => {
    await t.close();
    await backend.stop();
  });
  beforeEach(() => clock.set(new Date()));

  it("runs the README's create example: SCHEDULED, then COMPLETED with the backend's callId after the due time", async () => {
    const runAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 10 * 60_000);
    const created = await http().post('/tasks').set(auth).send(createExample(seedTime(runAt), backend.url)).expect(200);
    expect(created.body).toEqual({ taskId: expect.any(String), status: 'SCHEDULED' });
    const { taskId } = created.body;

    const before = await task(taskId);
    expect(before).toMatchObject({ taskId, status: 'SCHEDULED', runAtUtc: seedTime(runAt), callId: null, lastError: null });
    expect(backend.requests.filter((r) => r.body.conversationId === 'conv-123')).toHaveLength(0);

    const done = await runDue(taskId, runAt, ['COMPLETED', 'FAILED']);
    const [start] = backend.requests.filter((r) => r.path === '/call/start' && r.body.conversationId === 'conv-123');
    expect(start.body).toMatchObject({ agentType: 'STOCK_CHECKER', placeId: 'ChIJ...', phoneE164: '+61731824583', scriptPreview: "Hello, I'm calling to check if you have...", slots: { product: 'BBQ Chicken' } });
    expect(done).toEqual({
      taskId,
      status: 'COMPLETED',
      runAtUtc: seedTime(runAt),
      agentType: 'STOCK_CHECKER',
      conversationId: 'conv-123',
      mode: 'DIRECT',
      callId: expect.stringMatching(/^CA[0-9a-f]{32}$/),
      lastError: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/),
      events: expect.any(Array),
    });
    expect(done.events.map((e: { id: number }) => e.id)).toEqual(done.events.map((_: unknown, i: number) => i + 1));
    expect(done.events[0]).toEqual({ id: 1, tsUtc: expect.any(String), level: 'INFO', message: 'Schedule created' });
    expect(done.events.map((e: { message: string }) => e.message)).toEqual(expect.arrayContaining(['Call placed via agent_backend', 'Call ended completed']));
    expect(done.events.every((e: { level: string }) => e.level === 'INFO')).toBe(true);
  });

  it("runs the README's curl example and its BRIEF_START mode example to COMPLETED", async () => {
    const runAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 10 * 60_000);
    const epoch = Math.floor(Date.now() / 1000);
    const direct = (await http().post('/tasks').set(auth).send(curlExample(seedTime(runAt), backend.url, epoch)).expect(200)).body;
    const brief = (await http().post('/tasks').set(auth).send({ ...createExample(seedTime(runAt), backend.url), conversationId: 'conv-brief-123', ...briefStartExample }).expect(200)).body;
    expect(direct.status).toBe('SCHEDULED');
    expect(brief.status).toBe('SCHEDULED');
    expect((await runDue(direct.taskId, runAt, ['COMPLETED', 'FAILED'])).status).toBe('COMPLETED');
    const briefDone = await runDue(brief.taskId, runAt, ['COMPLETED', 'FAILED']);
    expect(briefDone).toMatchObject({ status: 'COMPLETED', mode: 'BRIEF_START', callId: expect.stringMatching(/^CA/), lastError: null });
    const calls = backend.requests.filter((r) => r.body.conversationId === 'conv-brief-123');
    expect(calls.map((r) => r.path)).toEqual(['/call/brief', '/call/start']);
    expect(calls[0].body).toMatchObject({ place: { businessName: 'Red Rooster', phoneE164: '+61731824583' }, disclosure: { nameShare: false, phoneShare: false }, fallbacks: { askETA: true } });
    expect(calls[1].body.scriptPreview).toBe('Hello Red Rooster, calling about {"product":"BBQ Chicken"}');
  });

  it('a call the backend refuses ends FAILED with lastError', async () => {
    backend.refusePhones.add('+61731824599');
    const runAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 5 * 60_000);
    const body = createExample(seedTime(runAt), backend.url);
    const { taskId } = (await http().post('/tasks').set(auth).send({ ...body, conversationId: 'conv-refused', payload: { ...body.payload, phoneE164: '+61731824599' } }).expect(200)).body;
    const failed = await runDue(taskId, runAt, ['COMPLETED', 'FAILED']);
    expect(failed).toMatchObject({ status: 'FAILED', callId: null, lastError: '400: cannot call +61731824599: number not reachable' });
    // The refusal is in the event list by the time the task reads FAILED.
    expect(failed.events.find((e: { level: string }) => e.level === 'ERROR')?.message).toBe('Provider refused the call: 400 cannot call +61731824599: number not reachable');
  });

  it('cancels a scheduled task, lists tasks by seed status, and refuses what cannot be done with the standard error body', async () => {
    const runAt = new Date(Date.now() + 3_600_000);
    const { taskId } = (await http().post('/tasks').set(auth).send({ ...createExample(seedTime(runAt), backend.url), conversationId: 'conv-cancel' }).expect(200)).body;
    const scheduled = (await http().get('/tasks').query({ status: 'SCHEDULED', limit: 50 }).set(auth).expect(200)).body;
    expect(scheduled.map((x: { taskId: string }) => x.taskId)).toContain(taskId);
    expect(scheduled.every((x: { status: string }) => x.status === 'SCHEDULED')).toBe(true);

    expect((await http().post(`/tasks/${taskId}/cancel`).set(auth).expect(200)).body).toEqual({ taskId, status: 'CANCELED' });
    expect((await task(taskId)).status).toBe('CANCELED');
    const again = await http().post(`/tasks/${taskId}/cancel`).set(auth).expect(409);
    expect(again.body).toMatchObject({ status: 'error', error_code: 'SCHEDULE_010', timestamp: expect.any(String) });
    const canceled = (await http().get('/tasks?status=CANCELED&limit=1').set(auth).expect(200)).body;
    expect(canceled).toEqual([expect.objectContaining({ taskId, status: 'CANCELED', conversationId: 'conv-cancel' })]);
    const completed = (await http().get('/tasks?status=COMPLETED').set(auth).expect(200)).body;
    expect(completed.length).toBeGreaterThan(0);
    expect(completed.every((x: { status: string; callId: string }) => x.status === 'COMPLETED' && x.callId)).toBe(true);

    expect((await http().get('/tasks/000000000000000000000000').set(auth).expect(404)).body).toMatchObject({ status: 'error', error_code: 'SCHEDULE_009' });
    expect((await http().get('/tasks?status=DONE').set(auth).expect(400)).body).toMatchObject({ status: 'error', details: { field: 'status' } });
    expect((await http().get('/tasks?limit=0').set(auth).expect(400)).body).toMatchObject({ status: 'error', details: { field: 'limit' } });
    await http().get('/tasks').expect(401);
  });

  it('takes the configured tasks token instead of a JWT, for its tenant only; anything else is a 401', async () => {
    const body = { ...createExample(seedTime(new Date(Date.now() + 3_600_000)), backend.url), conversationId: 'conv-token' };
    const { taskId } = (await http().post('/tasks').set(bearer(TASKS_TOKEN)).send(body).expect(200)).body;
    expect((await http().get(`/tasks/${taskId}`).set(bearer(TASKS_TOKEN)).expect(200)).body).toMatchObject({ taskId, status: 'SCHEDULED', conversationId: 'conv-token' });
    // The token's tasks are its tenant's schedules: a JWT of that tenant sees them, another tenant's does not.
    expect((await http().get(`/schedule/${taskId}`).set(auth).expect(200)).body.schedule.tenant_id).toBe('calleroo');
    await http().get(`/tasks/${taskId}`).set(bearer(tokenFor('someone-else', { tenantId: 'other' }))).expect(404);
    const wrong = await http().get('/tasks').set(bearer(`${TASKS_TOKEN}x`)).expect(401);
    expect(wrong.body).toMatchObject({ status: 'error', error_code: 'AUTH_002', details: { field: 'Authorization' } });
    expect((await http().post('/tasks').send(body).expect(401)).body.error_code).toBe('AUTH_001');
    // The token opens /tasks only.
    await http().get('/schedule').set(bearer(TASKS_TOKEN)).expect(401);
  });

  it.each([
    ['a missing payload.phoneE164', (b: Record<string, unknown>) => ({ ...b, payload: { scriptPreview: 'Hi' } }), 'VALIDATION_002', 'payload.phoneE164'],
    ['a BRIEF_START place without a valid phone', (b: Record<string, unknown>) => ({ ...b, ...briefStartExample, payload: { ...briefStartExample.payload, place: { phoneE164: '12' } } }), 'SCHEDULE_001', 'payload.place.phoneE164'],
    ['an unknown mode', (b: Record<string, unknown>) => ({ ...b, mode: 'LATER' }), 'SCHEDULE_014', 'mode'],
    ['a runAtUtc that is no time', (b: Record<string, unknown>) => ({ ...b, runAtUtc: 'tomorrow' }), 'SCHEDULE_003', 'runAtUtc'],
    ['a runAtUtc in the past', (b: Record<string, unknown>) => ({ ...b, runAtUtc: '2020-01-01T00:00:00Z' }), 'SCHEDULE_004', 'runAtUtc'],
    ['a backend that is not allow-listed', (b: Record<string, unknown>) => ({ ...b, backendBaseUrl: 'https://api.callerooapp.com' }), 'SCHEDULE_014', 'backendBaseUrl'],
    ['an unknown field', (b: Record<string, unknown>) => ({ ...b, priority: 'high' }), 'VALIDATION_003', 'priority'],
  ])('refuses %s with the standard error body and writes nothing', async (_name, change, code, field) => {
    const count = async () => (await http().get('/tasks?limit=500').set(auth).expect(200)).body.length;
    const before = await count();
    const res = await http().post('/tasks').set(auth).send(change(createExample(seedTime(new Date(Date.now() + 3_600_000)), backend.url))).expect(400);
    expect(res.body).toMatchObject({ status: 'error', error_code: code, message: expect.any(String), details: { field, issue: expect.any(String) }, timestamp: expect.any(String) });
    expect(await count()).toBe(before);
  });
});
