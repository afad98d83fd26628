import request from 'supertest';
import { CallDispatcher, PlaceCallRequest, PlaceCallResult } from '../src/calls/call-dispatcher';
import { OccurrenceClaimRepository } from '../src/schedule/occurrence-claim.repository';
import { createTestApp } from './utils/test-app';
import { bearer, tokenFor } from './utils/tokens';
import { waitFor } from './utils/wait';

// A provider that takes its time to answer, so that shutdown catches a dial in flight.
class SlowCallDispatcher extends CallDispatcher {
  started = 0;
  finished = 0;

  async placeCall(request: PlaceCallRequest): Promise<PlaceCallResult> {
    this.started++;
    await new Promise((r) => setTimeout(r, 1500));
    this.finished++;
    return { kind: 'placed', provider: 'slow', callId: `SL${request.callLogId.padStart(32, '0')}` };
  }
}

describe('graceful shutdown (e2e)', () => {
  it('lets a dial in flight finish and record its outcome before the app closes', async () => {
    const slow = new SlowCallDispatcher();
    const t = await createTestApp({ env: { SCHEDULER_SHUTDOWN_TIMEOUT_MS: '10000' }, override: (b) => b.overrideProvider(CallDispatcher).useValue(slow) });
    const due = new Date(Date.now() + 1000);
    const res = await request(t.app.getHttpServer()).post('/schedule/').set(bearer(tokenFor('alice'))).send({ phone: '+14155552671', scheduled_time: due.toISOString() }).expect(200);
    const id = res.body.schedule_id as string;

    await waitFor(async () => slow.started === 1, 10_000, 20);
    await t.close();

    expect(slow.finished).toBe(1);
    const [claim] = await waitFor(async () => {
      const other = await createTestApp({ config: { ...t.config, scheduler: { ...t.config.scheduler, enabled: false } } });
      try {
        return await other.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).findForSchedule(id, 5);
      } finally {
        await other.close();
      }
    }, 10_000);
    expect(claim).toMatchObject({ state: 'dialed', call_id: expect.stringMatching(/^SL/) });
  });
});
