import request from 'supertest';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { FakeAgentBackendServer } from '../fakes/fake-agent-backend.server';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig } from '../utils/test-config';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const TOKEN = 'internal-backend-token-0123456789';

describe('outbound calls through an HTTP voice-agent backend (fake backend over HTTP)', () => {
  const backend = new FakeAgentBackendServer(TOKEN);
  const other = new FakeAgentBackendServer(TOKEN);
  const auth = bearer(tokenFor('agent-user'));
  let t: TestApp;

  beforeAll(async () => {
    await Promise.all([backend.start(), other.start()]);
    t = await createTestApp({
      config: testConfig({
        CALL_PROVIDER: 'agent_backend',
        DEFAULT_BACKEND_BASE_URL: backend.url,
        BACKEND_BASE_URL_ALLOWLIST: `${other.url}/`,
        BACKEND_INTERNAL_TOKEN: TOKEN,
      }),
    });
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([backend.stop(), other.stop()]);
  });

  const schedule = (phone: string, providerOptions: Record<string, unknown>) =>
    request(t.app.getHttpServer()).post('/schedule/').set(auth).send({ phone, scheduled_time: new Date(Date.now() + 1000).toISOString(), provider_options: providerOptions });
  const placedLog = (id: string) => waitFor(async () => (await t.get<CallLogRepository>(CallLogRepository).findForSchedule(id)).find((l) => l.call_id), 15_000);

  it('DIRECT posts the prepared payload to /call/start with the bearer token and saves the call id', async () => {
    const res = await schedule('+61731824583', {
      mode: 'DIRECT',
      agent_type: 'STOCK_CHECKER',
      conversation_id: 'conv-123',
      payload: { placeId: 'ChIJN1t_tDeuEmsRUsoyG83frY4', scriptPreview: 'Hello, do you have BBQ chickens today?', slots: { product: 'BBQ Chicken' } },
    }).expect(200);
    const log = await placedLog(res.body.schedule_id);
    const starts = backend.requests.filter((r) => r.path === '/call/start' && r.body.conversationId === 'conv-123');
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      body: { agentType: 'STOCK_CHECKER', placeId: 'ChIJN1t_tDeuEmsRUsoyG83frY4', phoneE164: '+61731824583', scriptPreview: 'Hello, do you have BBQ chickens today?', slots: { product: 'BBQ Chicken' } },
    });
    expect(log).toMatchObject({ provider: 'agent_backend', call_id: expect.stringMatching(/^CA[0-9a-f]{32}$/) });
  });

  it('BRIEF_START asks /call/brief for the script, then starts the call with it, on an allow-listed backend', async () => {
    const res = await schedule('+61731824584', {
      mode: 'BRIEF_START',
      backend_base_url: other.url,
      conversation_id: 'conv-brief',
      payload: { place: { placeId: 'ChIJ-brief', businessName: 'Red Rooster' }, slots: { product: 'BBQ Chicken' }, disclosure: { nameShare: false }, fallbacks: { askETA: true } },
    }).expect(200);
    await placedLog(res.body.schedule_id);
    const [brief, start] = other.requests.filter((r) => r.body.conversationId === 'conv-brief');
    expect(brief).toMatchObject({
      path: '/call/brief',
      authorization: `Bearer ${TOKEN}`,
      body: { place: { placeId: 'ChIJ-brief', businessName: 'Red Rooster', phoneE164: '+61731824584' }, slots: { product: 'BBQ Chicken' }, disclosure: { nameShare: false }, fallbacks: { askETA: true } },
    });
    expect(start).toMatchObject({ path: '/call/start', body: { placeId: 'ChIJ-brief', phoneE164: '+61731824584', scriptPreview: 'Hello Red Rooster, calling about {"product":"BBQ Chicken"}' } });
    expect(backend.requests.filter((r) => r.body.conversationId === 'conv-brief')).toHaveLength(0);
  });

  it.each([
    ['cloud metadata', 'http://169.254.169.254/latest'],
    ['loopback on another port', 'http://127.0.0.1:1'],
    ['a look-alike host', 'http://127.0.0.1.nip.io'],
    ['a non-http scheme', 'file:///etc/passwd'],
  ])('refuses a backend_base_url outside the allow-list (%s) with a 400 and stores nothing', async (_name, url) => {
    const before = await request(t.app.getHttpServer()).get('/schedule/').set(auth).expect(200);
    const res = await schedule('+61731824585', { backend_base_url: url }).expect(400);
    expect(res.body).toMatchObject({ status: 'error', error_code: 'SCHEDULE_014', details: { field: 'provider_options.backend_base_url' } });
    const after = await request(t.app.getHttpServer()).get('/schedule/').set(auth).expect(200);
    expect(after.body.total).toBe(before.body.total);
  });
});
