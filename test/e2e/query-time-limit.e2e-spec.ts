import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import request from 'supertest';
import { CallStatsFoldJob } from '../../src/tracking/call-stats-fold.job';
import { startLatencyProxy, LatencyProxy } from '../utils/latency-proxy';
import { createTestApp, TestApp } from '../utils/test-app';
import { testDatabaseUri } from '../utils/test-config';
import { bearer, tokenFor } from '../utils/tokens';

// Far above what these small reads take even on a loaded 2-core machine (a 100 ms limit was overrun there by
// a plain stats read), so the fast half does not depend on the machine's speed.
const LIMIT_MS = 2000;
// Well past the limit: every database reply alone takes longer than the whole read may.
const REPLY_DELAY_MS = 5000;
const LOGS = 12;

// API list and tracking reads stop at API_QUERY_MAX_TIME_MS and answer 503, whatever makes them slow. The read is
// slow by construction: a proxy between the service and the database holds back every reply, so the outcome does
// not depend on how fast the database engine is.
describe('API reads under a query time limit (e2e, real database)', () => {
  let t: TestApp;
  let proxy: LatencyProxy;
  const owner = bearer(tokenFor('limit-owner'));
  const http = () => request(t.app.getHttpServer());
  const reads = ['/schedule/tracking/logs', '/schedule/tracking/stats', '/schedule/tracking/stats?group_by=day', '/schedule', '/schedule/active'];

  beforeAll(async () => {
    proxy = await startLatencyProxy(testDatabaseUri());
    t = await createTestApp({ env: { MONGODB_URI: proxy.uri, API_QUERY_MAX_TIME_MS: String(LIMIT_MS) } });
    const now = Date.now();
    const logs = Array.from({ length: LOGS }, (_, i) => ({
      _id: new Types.ObjectId(),
      tenant_id: 'limit-owner',
      created_by: 'limit-owner',
      phone: '+14155552671',
      status: 'completed',
      call_type: 'outbound',
      timestamp: new Date(now - i * 1000),
      last_updated: new Date(now - i * 1000),
      timeline: [],
    }));
    await t.get<Connection>(getConnectionToken()).collection('call_logs').insertMany(logs);
    await t.get<CallStatsFoldJob>(CallStatsFoldJob).catchUp();
    await http()
      .post('/schedule/')
      .set(owner)
      .send({ phone: '+14155552671', scheduled_time: new Date(now + 30 * 60_000).toISOString() })
      .expect(200);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it('answers 503 SERVICE_002 in the standard error body while the database is slow to reply, and recovers', async () => {
    proxy.setReplyDelay(REPLY_DELAY_MS);
    for (const path of reads) {
      const res = await http().get(path).set(owner);
      expect({ path, status: res.status }).toEqual({ path, status: 503 });
      expect(res.body).toEqual({
        status: 'error',
        message: 'The query took too long',
        error_code: 'SERVICE_002',
        details: { field: null, issue: expect.stringContaining(`${LIMIT_MS} ms`) },
        timestamp: expect.any(String),
        error_id: expect.any(String),
      });
    }

    // Replies already held back (to reads the service gave up on) still arrive; once they have, the way is fast.
    proxy.setReplyDelay(0);
    await proxy.drained();
    await http().get('/health/ready').expect(200);
    const logs = await http().get('/schedule/tracking/logs').set(owner).expect(200);
    expect(logs.body.total).toBe(LOGS);
    const stats = await http().get('/schedule/tracking/stats').set(owner).expect(200);
    expect(stats.body).toMatchObject({ total_calls: LOGS, completed_calls: LOGS });
    const byDay = await http().get('/schedule/tracking/stats?group_by=day').set(owner).expect(200);
    expect(byDay.body.total_calls).toBe(LOGS);
    expect((await http().get('/schedule').set(owner).expect(200)).body.total).toBe(1);
    await http().get('/schedule/active').set(owner).expect(200);
  });
});
