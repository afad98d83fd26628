import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import request from 'supertest';
import { createTestApp, TestApp } from './utils/test-app';
import { bearer, tokenFor } from './utils/tokens';

// The database stops a slow API read at API_QUERY_MAX_TIME_MS instead of running on after the client left.
// 20,000 call logs make the tracking read's sort take several hundred ms on FerretDB, above the 100 ms limit.
describe('API reads under a query time limit (e2e, real database)', () => {
  let t: TestApp;
  const owner = bearer(tokenFor('limit-owner'));
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await createTestApp({ env: { API_QUERY_MAX_TIME_MS: '100' } });
    const now = Date.now();
    const logs = Array.from({ length: 20_000 }, (_, i) => ({
      _id: new Types.ObjectId(),
      tenant_id: 'limit-owner',
      created_by: 'limit-owner',
      phone: '+14155552671',
      status: 'completed',
      call_type: 'outbound',
      timestamp: new Date(now - i * 1000),
      last_updated: new Date(now - i * 1000),
      notes: 'x'.repeat(200),
      timeline: [],
    }));
    const collection = t.get<Connection>(getConnectionToken()).collection('call_logs');
    for (let i = 0; i < logs.length; i += 5000) await collection.insertMany(logs.slice(i, i + 5000));
  }, 120_000);
  afterAll(() => t.close());

  it('answers 503 SERVICE_002 in the standard error body when the database stops the read', async () => {
    const res = await http().get('/schedule/tracking/logs').set(owner).expect(503);
    expect(res.body).toMatchObject({
      status: 'error',
      error_code: 'SERVICE_002',
      message: 'The query took too long',
      details: { field: null, issue: expect.stringContaining('100 ms') },
    });
    expect(typeof res.body.timestamp).toBe('string');
    const stats = await http().get('/schedule/tracking/stats').set(owner).expect(503);
    expect(stats.body).toMatchObject({ status: 'error', error_code: 'SERVICE_002' });
    // The service goes on answering: the read was stopped, not left running.
    await http().get('/health/ready').expect(200);
  });
});
