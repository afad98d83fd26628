import { getConnectionToken } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import request from 'supertest';
import { ShutdownDrain } from '../../src/health/shutdown-drain.service';
import { createTestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

describe('readiness and draining (ops e2e)', () => {
  it('lets a request in flight finish before the app closes', async () => {
    const t = await createTestApp({ env: { SCHEDULER_SHUTDOWN_TIMEOUT_MS: '10000' } });
    const server = t.app.getHttpServer();
    let settled = false;
    const inFlight = request(server)
      .post('/schedule/')
      .set(bearer(tokenFor('drain')))
      .send({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 3_600_000).toISOString() })
      .then((r) => {
        settled = true;
        return r;
      });
    // Usually caught in flight; on a fast machine it may finish first, which the close below must not break.
    await waitFor(async () => settled || t.get<ShutdownDrain>(ShutdownDrain).inFlightRequests() === 1, 5000, 1);
    await t.close();
    expect((await inFlight).status).toBe(200);
  });

  it('reports 503 during the drain window even with nothing in flight', async () => {
    const t = await createTestApp();
    const drain = t.get<ShutdownDrain>(ShutdownDrain);
    await drain.beforeApplicationShutdown();
    const res = await request(t.app.getHttpServer()).get('/health/ready').expect(503);
    expect(res.body).toMatchObject({ status: 'error', message: 'Not ready: shutdown', components: { shutdown: { status: 'down' } } });
    await request(t.app.getHttpServer()).get('/health').expect(200);
    await t.close();
  });

  it('reports 503 when the database is unreachable', async () => {
    const t = await createTestApp();
    await request(t.app.getHttpServer()).get('/health/ready').expect(200);
    await t.get<Connection>(getConnectionToken()).close();
    const res = await request(t.app.getHttpServer()).get('/health/ready').expect(503);
    expect(res.body.components.database).toMatchObject({ status: 'down' });
    await t.close().catch(() => undefined);
  });
});
