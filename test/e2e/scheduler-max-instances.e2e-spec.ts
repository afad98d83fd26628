import request from 'supertest';
import { CallDispatcher, PlaceCallRequest, PlaceCallResult } from '../../src/calls/call-dispatcher';
import { Clock } from '../../src/common/clock/clock';
import { JobOutcome } from '../../src/jobs/job-queue.service';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { createTestApp, TestApp } from '../utils/test-app';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

// A provider that answers only when the test lets it: each held dial keeps its occurrence in flight.
class HeldCallDispatcher extends CallDispatcher {
  readonly held: Array<{ occurrenceAt: string; release: () => void }> = [];

  placeCall(request: PlaceCallRequest): Promise<PlaceCallResult> {
    return new Promise((resolve) => {
      this.held.push({
        occurrenceAt: request.occurrenceAt.toISOString(),
        release: () => resolve({ kind: 'placed', provider: 'held', callId: `HC${request.callLogId.padStart(32, '0')}` }),
      });
    });
  }

  releaseAll(): void {
    for (const h of this.held) h.release();
  }
}

describe('SCHEDULER_MAX_INSTANCES: in-flight occurrences per recurring schedule (service level, real database)', () => {
  let t: TestApp;
  const clock = new TestClock();
  const provider = new HeldCallDispatcher();
  const alice = bearer(tokenFor('max-instances'));
  const http = () => request(t.app.getHttpServer());
  const handle = (id: string): Promise<JobOutcome> => t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id);
  const nextExecution = async (id: string) => (await http().get(`/schedule/${id}`).set(alice).expect(200)).body.schedule.next_execution as string;

  beforeAll(async () => {
    // The scheduler is off: the test plays the sweeper's part by running the dispatch at chosen times.
    t = await createTestApp({
      env: { SCHEDULER_ENABLED: 'false', SCHEDULER_MAX_INSTANCES: '2' },
      override: (b) => b.overrideProvider(Clock).useValue(clock).overrideProvider(CallDispatcher).useValue(provider),
    });
  });
  afterAll(async () => {
    provider.releaseAll();
    await t.close();
  });

  it('defers an occurrence while the limit is in flight, and dispatches it once one finishes', async () => {
    const start = new Date(Math.ceil((Date.now() + 120_000) / 60_000) * 60_000);
    const id = (await http().post('/schedule/').set(alice).send({ phone: '+14155552671', scheduled_time: start.toISOString(), repeat_config: { enabled: true, frequency: 'hourly' } }).expect(200)).body
      .schedule_id as string;

    // Two occurrences reach the provider and stay there.
    const running: Array<Promise<JobOutcome>> = [];
    for (let i = 0; i < 2; i++) {
      clock.set(new Date(await nextExecution(id)));
      running.push(handle(id));
      await waitFor(async () => provider.held.length === i + 1, 10_000);
    }
    expect(await t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).countInFlight(id)).toBe(2);

    // The third is due, but two are in flight: nothing is claimed or dialed, and it stays due.
    const third = await nextExecution(id);
    expect(third).toBe(new Date(start.getTime() + 2 * 3_600_000).toISOString());
    clock.set(new Date(third));
    const deferred = await handle(id);
    expect(deferred.outcome).toBe('deferred_max_instances');
    expect(deferred.nextRunAt!.getTime()).toBeGreaterThan(clock.now().getTime() - 1000);
    expect(provider.held).toHaveLength(2);
    expect(await nextExecution(id)).toBe(third);
    expect(await t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).countInFlight(id)).toBe(2);

    // One answer frees a place: the third occurrence is dispatched.
    provider.held[0].release();
    expect((await running[0]).outcome).toBe('dispatched');
    expect(await t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).countInFlight(id)).toBe(1);
    const dispatched = handle(id);
    await waitFor(async () => provider.held.length === 3, 10_000);
    expect(provider.held.map((h) => h.occurrenceAt)).toEqual([0, 1, 2].map((h) => new Date(start.getTime() + h * 3_600_000).toISOString()));
    provider.releaseAll();
    expect((await dispatched).outcome).toBe('dispatched');
    expect((await running[1]).outcome).toBe('dispatched');
  });
});
