import request from 'supertest';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { Clock } from '../../src/common/clock/clock';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { startLatencyProxy, LatencyProxy } from '../utils/latency-proxy';
import { RecordingCallDispatcher } from '../utils/recording-dispatcher';
import { createTestApp, TestApp } from '../utils/test-app';
import { testDatabaseUri } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';

// As in database-stops-answering: long enough for the app's start-up commands on a loaded CI machine.
const SOCKET_TIMEOUT_MS = 10_000;
const owner = bearer(tokenFor('claim-reply-lost'));
// The insert command on occurrence_claims: its name, then the collection as a BSON string.
const CLAIM_INSERT = /\x02insert\x00[\s\S]{4}occurrence_claims\x00/;

// A dispatcher's claim is the exactly-once gate, and only a repeat of its insert reads the claim it
// collided with (a first insert's duplicate is another run's). A batch whose reply is lost is inserted again
// document by document, each recognised by its _id (insertEach); when that insert's reply is lost too, the
// claim fails, and the dispatcher's next attempt must come as a repeat: it then finds its own claim and
// dials, once.
describe('a claim insert whose reply is lost (e2e, real database)', () => {
  const clock = new TestClock();
  const recorder = new RecordingCallDispatcher();
  let t: TestApp;
  let proxy: LatencyProxy;

  beforeAll(async () => {
    proxy = await startLatencyProxy(testDatabaseUri());
    // The scheduler is off: the test makes the one dispatch itself.
    t = await createTestApp({
      env: { MONGODB_URI: proxy.uri, MONGODB_SOCKET_TIMEOUT_MS: String(SOCKET_TIMEOUT_MS), SCHEDULER_ENABLED: 'false' },
      override: (o) => o.overrideProvider(Clock).useValue(clock).overrideProvider(CallDispatcher).useValue(recorder),
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it('is repeated after its connections time out, finds its own claim and dials once', async () => {
    const at = new Date(clock.now().getTime() + 60_000);
    const { body } = await request(t.app.getHttpServer()).post('/schedule/').set(owner).send({ phone: '+14155552671', scheduled_time: at.toISOString() }).expect(200);
    const id: string = body.schedule_id;
    clock.set(at);

    // The batch's insertMany, then its one document's insertOne.
    proxy.swallowReplyTo(CLAIM_INSERT, 2);
    const outcome = await t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id);

    expect(proxy.unanswered.filter((r) => CLAIM_INSERT.test(r))).toHaveLength(2);
    expect(outcome.outcome).toBe('dispatched');
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(1);
    expect(await t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).findForSchedule(id, 5)).toHaveLength(1);
  }, 90_000);
});
