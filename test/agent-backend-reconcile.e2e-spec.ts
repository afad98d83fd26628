import request from 'supertest';
import { Clock } from '../src/common/clock/clock';
import { AgentHandoffListener } from '../src/status-update/agent-backend/agent-handoff.listener';
import { CallReconcileJob } from '../src/status-update/call-reconcile.job';
import { CallLogRepository } from '../src/tracking/call-log.repository';
import { FakeAgentBackendServer } from './fakes/fake-agent-backend.server';
import { createTestApp, TestApp } from './utils/test-app';
import { testConfig } from './utils/test-config';
import { TestClock } from './utils/test-clock';
import { bearer, tokenFor } from './utils/tokens';
import { waitFor } from './utils/wait';

const TOKEN = 'internal-backend-token-reconcile-0123456789';

// The hand-off is recorded from an in-process event, which a crash right after the dial loses. The call
// reconciler then finds the call still queued, and the agent backend's lookup answers completed.
describe('agent backend: a hand-off lost to a crash is finished by the call reconciler', () => {
  const backend = new FakeAgentBackendServer(TOKEN);
  const clock = new TestClock();
  const auth = bearer(tokenFor('agent-reconcile'));
  let t: TestApp;

  beforeAll(async () => {
    await backend.start();
    t = await createTestApp({
      config: testConfig({ CALL_PROVIDER: 'agent_backend', DEFAULT_BACKEND_BASE_URL: backend.url, BACKEND_INTERNAL_TOKEN: TOKEN }),
      // No listener: the event that records the hand-off is lost, as in a crash.
      override: (b) => b.overrideProvider(Clock).useValue(clock).overrideProvider(AgentHandoffListener).useValue({}),
    });
  });
  afterAll(async () => {
    await t.close();
    await backend.stop();
  });

  it('completes the attempt and its one-time schedule', async () => {
    const id = (
      await request(t.app.getHttpServer())
        .post('/schedule/')
        .set(auth)
        .send({ phone: '+61731824597', scheduled_time: new Date(Date.now() + 1000).toISOString(), provider_options: { mode: 'DIRECT', payload: { scriptPreview: 'Hello' } } })
        .expect(200)
    ).body.schedule_id;
    const get = async () => (await request(t.app.getHttpServer()).get(`/schedule/${id}`).set(auth).expect(200)).body.schedule;
    const logs = () => t.get<CallLogRepository>(CallLogRepository).findForSchedule(id);
    const [placed] = await waitFor(async () => ((l) => (l[0]?.call_id ? l : null))(await logs()), 15_000);
    await waitFor(async () => (await get()).status === 'running', 10_000);
    expect(placed.status).toBe('queued');

    clock.advance((t.config.callReconcileAfterMinutes + 1) * 60_000);
    await t.get<CallReconcileJob>(CallReconcileJob).handle();
    const [log] = await logs();
    expect(log).toMatchObject({ status: 'completed', call_id: placed.call_id });
    expect(log.timeline.map((e) => e.source)).toContain('provider_lookup');
    expect(await get()).toMatchObject({ status: 'completed', last_call_status: 'completed', call_id: placed.call_id, last_error: null });
  });
});
