import request from 'supertest';
import { createTestApp, TestApp } from '../utils/test-app';

describe('health (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('GET /health answers without auth', async () => {
    const res = await request(t.app.getHttpServer()).get('/health').expect(200);
    expect(res.body.status).toBe('ok');
    expect(new Date(res.body.timestamp).toString()).not.toBe('Invalid Date');
  });

  it('GET /health/ready reports the database and the job scheduler as up', async () => {
    const res = await request(t.app.getHttpServer()).get('/health/ready').expect(200);
    expect(res.body.components).toEqual({ database: { status: 'up' }, scheduler: { status: 'up' } });
  });

  it('an unknown route is a 404 in the error body', async () => {
    const res = await request(t.app.getHttpServer()).get('/no/such/route').expect(404);
    expect(res.body).toMatchObject({ status: 'error', error_code: 'ROUTE_001', details: { field: null } });
    expect(typeof res.body.timestamp).toBe('string');
  });
});

describe('readiness when the job scheduler is stopped (e2e)', () => {
  it('answers 503 naming the scheduler', async () => {
    const t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false' } });
    try {
      const res = await request(t.app.getHttpServer()).get('/health/ready').expect(503);
      expect(res.body.failing).toEqual(['scheduler']);
      expect(res.body.components.database).toEqual({ status: 'up' });
    } finally {
      await t.close();
    }
  });
});
