import request from 'supertest';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';

describe('security headers, limits, throttling and CORS (ops e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '5', REQUEST_BODY_LIMIT_KB: '2', CORS_ORIGINS: 'https://ops.example.com' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('sends helmet headers with a same-origin CSP', async () => {
    const res = await request(t.app.getHttpServer()).get('/health').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toEqual(expect.any(String));
  });

  it('refuses a JSON body over REQUEST_BODY_LIMIT_KB with 413 in the standard body', async () => {
    const res = await request(t.app.getHttpServer()).post('/schedule/').set(bearer(tokenFor('big'))).send({ description: 'x'.repeat(4096) }).expect(413);
    expect(res.body).toMatchObject({ status: 'error', error_code: 'VALIDATION_005' });
  });

  it('limits each token separately, answers 429 RATE_001, and never limits webhooks or health', async () => {
    const server = t.app.getHttpServer();
    const a = bearer(tokenFor('throttle-a'));
    for (let i = 0; i < 5; i++) await request(server).get('/schedule').set(a).expect(200);
    const limited = await request(server).get('/schedule/active').set(a).expect(429);
    expect(limited.body).toMatchObject({ status: 'error', error_code: 'RATE_001', message: 'Too many requests', error_id: limited.headers['x-request-id'] });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await request(server).get('/schedule').set(bearer(tokenFor('throttle-b'))).expect(200);
    for (let i = 0; i < 8; i++) await request(server).get('/health').expect(200);
    for (let i = 0; i < 8; i++) await request(server).post('/webhook/call-status').type('form').send({ CallSid: 'CA1' }).expect(403);
  });

  it('limits callers without a valid token by address, before authentication', async () => {
    const server = t.app.getHttpServer();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await request(server).get('/schedule').set(bearer('not-a-token'))).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
  });

  it('answers CORS only for the configured origins', async () => {
    const server = t.app.getHttpServer();
    const ok = await request(server).options('/schedule').set('Origin', 'https://ops.example.com').set('Access-Control-Request-Method', 'GET');
    expect(ok.headers['access-control-allow-origin']).toBe('https://ops.example.com');
    const other = await request(server).get('/health').set('Origin', 'https://evil.example.com');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('has no CORS headers by default', async () => {
    const plain = await createTestApp({ config: { ...t.config, operations: { ...t.config.operations, corsOrigins: [] } }, listen: false });
    try {
      const res = await request(plain.app.getHttpServer()).get('/health').set('Origin', 'https://ops.example.com').expect(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
