import request from 'supertest';
import { CallDispatcher, PlaceCallRequest, PlaceCallResult } from '../../src/calls/call-dispatcher';
import { ShutdownDrain } from '../../src/health/shutdown-drain.service';
import { DueScheduleSweeper } from '../../src/schedule/dispatch/due-schedule.sweeper';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { createTestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

// A provider that answers only when the test lets it, so that shutdown catches a dial in flight.
class GatedCallDispatcher extends CallDispatcher {
  started = 0;
  finished = 0;
  private open: () => void = () => undefined;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));

  release(): void {
    this.open();
  }

  async placeCall(request: PlaceCallRequest): Promise<PlaceCallResult> {
    this.started++;
    await this.gate;
    this.finished++;
    return { kind: 'placed', provider: 'slow', callId: `SL${request.callLogId.padStart(32, '0')}` };
  }
}

describe('graceful shutdown (e2e)', () => {
  it('lets a dial in flight finish and record its outcome before the app closes', async () => {
    const slow = new GatedCallDispatcher();
    const t = await createTestApp({ env: { SCHEDULER_SHUTDOWN_TIMEOUT_MS: '10000' }, override: (b) => b.overrideProvider(CallDispatcher).useValue(slow) });
    try {
      // Counts dispatches that have run to their end, outcome recorded (the sweeper's in-flight work).
      const dispatch = t.get<OccurrenceDispatchService>(OccurrenceDispatchService);
      const dispatchDue = dispatch.dispatchDue.bind(dispatch);
      let dispatchesEnded = 0;
      jest.spyOn(dispatch, 'dispatchDue').mockImplementation(async (id: string) => {
        try {
          return await dispatchDue(id);
        } finally {
          dispatchesEnded++;
        }
      });
      // The dial is let go only once shutdown has begun waiting for dispatches in flight; the first stop
      // (the drain before Nest closes anything) tells how many had ended when it stopped waiting.
      const sweeper = t.get<DueScheduleSweeper>(DueScheduleSweeper);
      const stop = sweeper.stop.bind(sweeper);
      let endedWhenShutdownStoppedWaiting: number | null = null;
      jest.spyOn(sweeper, 'stop').mockImplementation(async (timeoutMs: number) => {
        const stopping = stop(timeoutMs);
        slow.release();
        await stopping;
        endedWhenShutdownStoppedWaiting ??= dispatchesEnded;
      });

      const due = new Date(Date.now() + 1000);
      const res = await request(t.app.getHttpServer()).post('/schedule/').set(bearer(tokenFor('alice'))).send({ phone: '+14155552671', scheduled_time: due.toISOString() }).expect(200);
      const id = res.body.schedule_id as string;

      await waitFor(async () => slow.started === 1, 10_000, 20);
      expect(slow.finished).toBe(0);
      await t.close();

      expect(endedWhenShutdownStoppedWaiting).toBe(1);
      expect(slow.finished).toBe(1);
      const { claim, log } = await waitFor(async () => {
        const other = await createTestApp({ config: { ...t.config, scheduler: { ...t.config.scheduler, enabled: false } } });
        try {
          const [c] = await other.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).findForSchedule(id, 5);
          const [l] = await other.get<CallLogRepository>(CallLogRepository).findForSchedule(id);
          return c ? { claim: c, log: l ?? null } : null;
        } finally {
          await other.close();
        }
      }, 10_000);
      // The claim names the log, and the log the call.
      expect(claim).toMatchObject({ state: 'dialed', call_log_id: log?.id });
      expect(log?.call_id).toMatch(/^SL/);
    } finally {
      // Never leave a dial hanging if the test failed before shutdown.
      slow.release();
    }
  });

  it('ends a simulated call placed before the signal: its remaining status reports are applied before the app closes', async () => {
    // Reports a minute apart: without the drain, the call would stop at `queued`.
    const t = await createTestApp({ env: { SCHEDULER_SHUTDOWN_TIMEOUT_MS: '10000', SIMULATOR_STEP_MS: '60000' } });
    const due = new Date(Date.now() + 1000);
    const res = await request(t.app.getHttpServer()).post('/schedule/').set(bearer(tokenFor('alice'))).send({ phone: '+14155552671', scheduled_time: due.toISOString() }).expect(200);
    const id = res.body.schedule_id as string;
    const logs = t.get<CallLogRepository>(CallLogRepository);
    await waitFor(async () => ((await logs.findForSchedule(id))[0]?.call_id ? true : null), 15_000);
    expect((await logs.findForSchedule(id))[0].status).toBe('queued');

    await t.get<ShutdownDrain>(ShutdownDrain).beforeApplicationShutdown();
    const [log] = await logs.findForSchedule(id);
    expect(log).toMatchObject({ status: 'completed', duration: 42 });
    expect(log.timeline.filter((e) => e.source === 'simulator').map((e) => e.status)).toEqual(['initiated', 'ringing', 'in_progress', 'completed']);
    const schedule = await request(t.app.getHttpServer()).get(`/schedule/${id}`).set(bearer(tokenFor('alice'))).expect(200);
    expect(schedule.body.schedule).toMatchObject({ status: 'completed', last_call_status: 'completed' });
    await t.close();
  });
});
