import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { AgentHandoffListener } from '../../src/status-update/agent-backend/agent-handoff.listener';
import { CallReconcileJob } from '../../src/status-update/call-reconcile.job';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { FakeAgentBackendServer } from '../fakes/fake-agent-backend.server';
import { createMediumApp, createSchedule, MediumApp, principalFor, scheduleDetails } from '../utils/medium-app';

const TOKEN = 'internal-backend-token-reconcile-0123456789';

// The hand-off is recorded from an in-process event, which a crash right after the dial loses. The call
// reconciler then finds the call still queued, and the agent backend's lookup answers completed.
describe('agent backend: a hand-off lost to a crash is finished by the call reconciler', () => {
  const backend = new FakeAgentBackendServer(TOKEN);
  let t: MediumApp;

  beforeAll(async () => {
    await backend.start();
    // The scheduler is off: the test dispatches the due schedule itself, as the sweeper would.
    t = await createMediumApp({
      env: { CALL_PROVIDER: 'agent_backend', DEFAULT_BACKEND_BASE_URL: backend.url, BACKEND_INTERNAL_TOKEN: TOKEN },
      // No listener: the event that records the hand-off is lost, as in a crash.
      override: (b) => b.overrideProvider(AgentHandoffListener).useValue({}),
    });
  });
  afterAll(async () => {
    await t.close();
    await backend.stop();
  });

  it('completes the attempt and its one-time schedule', async () => {
    const auth = principalFor(t, 'agent-reconcile');
    const at = new Date(t.clock.now().getTime() + 1000);
    const { id } = await createSchedule(t, auth, { phone: '+61731824597', scheduled_time: at.toISOString(), provider_options: { mode: 'DIRECT', payload: { scriptPreview: 'Hello' } } });
    const get = () => scheduleDetails(t, auth, id);
    const logs = () => t.get<CallLogRepository>(CallLogRepository).findForSchedule(id);
    // Due: the dial reaches the agent backend, which takes the call; its hand-off is never recorded.
    t.clock.set(at);
    expect((await t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id)).outcome).toBe('dispatched');
    const [placed] = await logs();
    expect(placed.call_id).toBeTruthy();
    expect((await get()).status).toBe('running');
    expect(placed.status).toBe('queued');

    t.clock.advance((t.config.callReconcileAfterMinutes + 1) * 60_000);
    await t.get<CallReconcileJob>(CallReconcileJob).handle();
    const [log] = await logs();
    expect(log).toMatchObject({ status: 'completed', call_id: placed.call_id });
    expect(log.timeline.map((e) => e.source)).toContain('provider_lookup');
    expect(await get()).toMatchObject({ status: 'completed', last_call_status: 'completed', call_id: placed.call_id, last_error: null });
  });
});
