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
// A read of one claim by its _id (an ObjectId): insertEach's check whether a duplicate is its own document.
const CLAIM_READ_BY_ID = /\x02find\x00[\s\S]{4}occurrence_claims\x00\x03filter\x00[\s\S]{4}\x07_id\x00/;

// A dispatcher's claim is the exactly-once gate, and only a repeat of its insert reads the claim it
// collided with (a first insert's duplicate is another run's). A batch whose reply is lost is inserted again
// document by document, a duplicate recognised as its own by its _id (insertEach). When that insert's reply
// is lost too, or the read that would recognise it fails, the claim fails, and the dispatcher's next attempt
// must come as a repeat: it then finds its own claim and dials, once.
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
  // A pattern left over from one case must not drop a reply of the next.
  afterEach(() => proxy.pendingSwallows(true));
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  async function dueSchedule(phone: string): Promise<string> {
    const at = new Date(clock.now().getTime() + 60_000);
    const { body } = await request(t.app.getHttpServer()).post('/schedule/').set(owner).send({ phone, scheduled_time: at.toISOString() }).expect(200);
    clock.set(at);
    return body.schedule_id;
  }

  async function expectDialedOnce(id: string, outcome: { outcome: string }) {
    // Every reply meant to be lost was lost within this dispatch.
    expect(proxy.pendingSwallows()).toBe(0);
    expect(outcome.outcome).toBe('dispatched');
    expect(recorder.dials.filter((d) => d.scheduleId === id)).toHaveLength(1);
    expect(await t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository).findForSchedule(id, 5)).toHaveLength(1);
  }

  it('is repeated after its connections time out, finds its own claim and dials once', async () => {
    const id = await dueSchedule('+14155552671');
    const before = proxy.unanswered.length;
    // The batch's insertMany, then its one document's insertOne.
    proxy.swallowReplyTo(CLAIM_INSERT, 2);
    const outcome = await t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id);

    expect(proxy.unanswered.slice(before).filter((r) => CLAIM_INSERT.test(r))).toHaveLength(2);
    await expectDialedOnce(id, outcome);
  }, 90_000);

  it('is repeated when the read that would recognise its own document fails', async () => {
    const id = await dueSchedule('+14155552672');
    const before = proxy.unanswered.length;
    // The batch's insertMany; its document's insertOne then meets the stored claim, and the read of it by
    // _id goes unanswered, and so does the driver's own retry of that read.
    proxy.swallowReplyTo(CLAIM_INSERT);
    proxy.swallowReplyTo(CLAIM_READ_BY_ID, 2);
    const outcome = await t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(id);

    const dropped = proxy.unanswered.slice(before);
    expect(dropped.filter((r) => CLAIM_INSERT.test(r))).toHaveLength(1);
    expect(dropped.filter((r) => CLAIM_READ_BY_ID.test(r))).toHaveLength(2);
    await expectDialedOnce(id, outcome);
  }, 90_000);
});
