import request from 'supertest';
import { Clock } from '../../src/common/clock/clock';
import { startLatencyProxy, LatencyProxy } from '../utils/latency-proxy';
import { createTestApp, TestApp } from '../utils/test-app';
import { testDatabaseUri } from '../utils/test-config';
import { TestClock } from '../utils/test-clock';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

// Long enough for the app's own start-up commands on a loaded CI machine (1 s was not), far below the
// wait for the dial.
const SOCKET_TIMEOUT_MS = 10_000;
const owner = bearer(tokenFor('unanswered-owner'));

// A database server that stops answering but keeps its connections open (what a stall after FerretDB's
// restart in the reliability suite looked like) must not stall due discovery: the sweeper's read fails at
// MONGODB_SOCKET_TIMEOUT_MS, and the next poll finds what is due. A proxy between the service and the database drops the replies on demand.
describe('a database that stops answering (e2e, real database)', () => {
  const clock = new TestClock();
  let t: TestApp;
  let proxy: LatencyProxy;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    proxy = await startLatencyProxy(testDatabaseUri());
    t = await createTestApp({
      env: { MONGODB_URI: proxy.uri, MONGODB_SOCKET_TIMEOUT_MS: String(SOCKET_TIMEOUT_MS) },
      override: (o) => o.overrideProvider(Clock).useValue(clock),
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it('drops the sweep read it never got a reply to, and dials what comes due after the database answers again', async () => {
    // Beyond the lookahead, so that no poll and no create-time trigger arms it before the clock moves.
    const at = new Date(clock.now().getTime() + 30 * 60_000);
    const { body } = await http().post('/schedule/').set(owner).send({ phone: '+14155552671', scheduled_time: at.toISOString() }).expect(200);
    const id: string = body.schedule_id;

    proxy.setSwallowReplies(true);
    // The sweeper's due read (its filter names next_execution) is one of the requests left without a reply.
    await waitFor(async () => proxy.unanswered.some((r) => r.includes('call_schedules') && r.includes('next_execution')), 10_000, 20);
    proxy.setSwallowReplies(false);

    clock.set(at);
    const dialed = await waitFor(async () => {
      const res = await http().get(`/schedule/${id}`).set(owner);
      return res.status === 200 && res.body.schedule.status !== 'scheduled' ? res.body.schedule : null;
    }, SOCKET_TIMEOUT_MS + 30_000, 200);
    expect(['running', 'completed']).toContain(dialed.status);
  }, 90_000);
});
