import type { IncomingMessage, ServerResponse } from 'node:http';
import request from 'supertest';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { FakeAgentBackendServer } from '../fakes/fake-agent-backend.server';
import { createServer } from 'node:net';
import { buildService, runBuiltServiceToExit, startBuiltService } from '../utils/built-service';
import { createTestApp } from '../utils/test-app';
import { TEST_JWT_SECRET, testConfig, testDatabaseUri } from '../utils/test-config';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

// Holds every /call/start until released, so that SIGTERM finds a dispatch in flight.
class HoldingBackend extends FakeAgentBackendServer {
  held = 0;
  private release!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));

  open(): void {
    this.release();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === '/call/start') {
      this.held++;
      await this.gate;
    }
    return super.handle(req, res);
  }
}

describe('SIGTERM in the running service (ops e2e)', () => {
  const TOKEN = 'backend-token-0123456789abcdef';
  const backend = new HoldingBackend(TOKEN);

  beforeAll(async () => {
    await backend.start();
  });
  afterAll(async () => {
    backend.open();
    await backend.stop();
  });

  it('answers 503 on readiness while it drains, lets the dispatch in flight finish, and exits 0', async () => {
    const outDir = await buildService('ops-shutdown-build');
    const env = {
      JWT_SECRET: TEST_JWT_SECRET,
      MONGODB_URI: testDatabaseUri(),
      CALL_PROVIDER: 'agent_backend',
      DEFAULT_BACKEND_BASE_URL: backend.url,
      BACKEND_INTERNAL_TOKEN: TOKEN,
      CALLS_PER_SECOND: '0',
      CALLING_HOURS_DEFAULT: '00:00-24:00',
      SCHEDULER_POLL_INTERVAL_MS: '200',
      SCHEDULER_SHUTDOWN_TIMEOUT_MS: '20000',
    };
    const service = await startBuiltService(outDir, env);
    const created = await request(service.url)
      .post('/schedule/')
      .set(bearer(tokenFor('drain-user')))
      .send({ phone: '+61731824583', scheduled_time: new Date(Date.now() + 1000).toISOString(), provider_options: { mode: 'DIRECT', payload: { scriptPreview: 'Hello' } } })
      .expect(200);
    await waitFor(async () => backend.held === 1, 20_000);

    const exit = service.stop();
    const draining = await waitFor(async () => {
      const res = await fetch(`${service.url}/health/ready`).catch(() => null);
      return res?.status === 503 ? ((await res.json()) as Record<string, unknown>) : null;
    }, 10_000, 50);
    expect(draining).toMatchObject({ status: 'error', failing: ['shutdown'] });
    // Liveness stays up: the process is healthy, only leaving.
    expect((await fetch(`${service.url}/health`)).status).toBe(200);

    // Clients keeping keep-alive connections busy through the whole drain, as a busy Twilio account's status
    // callbacks do (requests of a few ms each, back to back, over fetch's connection pool): such connections
    // kept the HTTP server from closing, and the process ran into main's hard deadline.
    let polling = true;
    const poll = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (polling) await fetch(`${service.url}/schedule/tracking/logs`, { headers: bearer(tokenFor('drain-user')) }).then((res) => res.text(), () => new Promise((r) => setTimeout(r, 20)));
      }),
    );

    backend.open();
    const released = Date.now();
    try {
      expect(await exit).toBe(0);
      // Well inside main's hard deadline (3 x SCHEDULER_SHUTDOWN_TIMEOUT_MS + 5 s), which exits with code 1.
      expect(Date.now() - released).toBeLessThan(20_000);
    } finally {
      polling = false;
      await poll;
    }

    const reader = await createTestApp({ config: { ...testConfig(env), scheduler: { ...testConfig(env).scheduler, enabled: false } }, listen: false });
    try {
      const logs = await reader.get<CallLogRepository>(CallLogRepository).findForSchedule(created.body.schedule_id as string);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ provider: 'agent_backend', call_id: expect.stringMatching(/^CA[0-9a-f]{32}$/) });
    } finally {
      await reader.close();
    }
  }, 120_000);

  it('drains its job queue and exits 1 when its port is taken', async () => {
    const outDir = await buildService('ops-shutdown-build');
    // Taken the way the service listens (every address), by a server that stays up for the test.
    const taken = createServer();
    const port = await new Promise<number>((resolve) => taken.listen(0, () => resolve((taken.address() as { port: number }).port)));
    try {
      const { code, output } = await runBuiltServiceToExit(
        outDir,
        { JWT_SECRET: TEST_JWT_SECRET, MONGODB_URI: testDatabaseUri(), CALL_PROVIDER: 'simulated', LOG_LEVEL: 'log', SCHEDULER_SHUTDOWN_TIMEOUT_MS: '5000' },
        port,
        90_000,
      );
      expect(code).toBe(1);
      expect(output).toContain(`cannot listen on port ${port}`);
      // The job queue had started: without its drain, the jobs it had locked stayed locked for their lifetime.
      expect(output).toMatch(/listen failed: draining[\s\S]*job queue drained/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 120_000);
});
