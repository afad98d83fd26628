import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { createTestApp, TestApp } from '../utils/test-app';
import { TEST_JWT_SECRET } from '../utils/test-config';
import { bearer, tokenFor } from '../utils/tokens';

function unsigned(payload: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}

function expectAuthError(res: request.Response, code: string) {
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ status: 'error', error_code: code, details: { field: 'Authorization' } });
  expect(typeof res.body.message).toBe('string');
  expect(new Date(res.body.timestamp).toISOString()).toBe(res.body.timestamp);
}

describe('JWT auth with HS256 (e2e)', () => {
  let t: TestApp;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false', JWT_ISSUER: 'call-scheduler-tests', JWT_AUDIENCE: 'call-scheduler' } });
  });
  afterAll(() => t.close());

  const sign = (payload: Record<string, unknown>, secret = TEST_JWT_SECRET) =>
    jwt.sign({ iss: 'call-scheduler-tests', aud: 'call-scheduler', ...payload }, secret, { algorithm: 'HS256' });

  it('accepts a valid token', async () => {
    await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(sign({ sub: 'u1', exp: now() + 60 }))).expect(200);
  });

  it('rejects a missing token', async () => {
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active'), 'AUTH_001');
  });

  it('rejects an empty bearer and a non-bearer scheme', async () => {
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set('Authorization', 'Bearer '), 'AUTH_001');
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set('Authorization', 'Basic dTpw'), 'AUTH_001');
  });

  it('rejects an expired token', async () => {
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(sign({ sub: 'u1', exp: now() - 10 }))), 'AUTH_003');
  });

  it('rejects a token signed with the wrong secret', async () => {
    const token = sign({ sub: 'u1', exp: now() + 60 }, 'another-secret-another-secret-another-secret');
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(token)), 'AUTH_002');
  });

  it('rejects alg: none', async () => {
    const token = unsigned({ sub: 'u1', exp: now() + 60, iss: 'call-scheduler-tests', aud: 'call-scheduler' });
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(token)), 'AUTH_002');
  });

  it('rejects a token without exp', async () => {
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(sign({ sub: 'u1' }))), 'AUTH_004');
  });

  it('rejects a wrong issuer or audience', async () => {
    const wrongIss = jwt.sign({ sub: 'u1', iss: 'elsewhere', aud: 'call-scheduler' }, TEST_JWT_SECRET, { expiresIn: 60 });
    const wrongAud = jwt.sign({ sub: 'u1', iss: 'call-scheduler-tests', aud: 'other' }, TEST_JWT_SECRET, { expiresIn: 60 });
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(wrongIss)), 'AUTH_002');
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(wrongAud)), 'AUTH_002');
  });

  it('rejects a tampered payload', async () => {
    const [h, , s] = sign({ sub: 'u1', exp: now() + 60 }).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'admin', roles: ['admin'], exp: now() + 60, iss: 'call-scheduler-tests', aud: 'call-scheduler' })).toString('base64url');
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(`${h}.${forged}.${s}`)), 'AUTH_002');
  });

  it('leaves health and webhooks without JWT', async () => {
    await request(t.app.getHttpServer()).get('/health').expect(200);
    const res = await request(t.app.getHttpServer()).post('/webhook/call-status').type('form').send({ CallSid: 'x' });
    expect(res.status).toBe(403);
    expect(res.body.error_code).toBe('WEBHOOK_001');
  });
});

describe('JWT auth with RS256 (e2e)', () => {
  let t: TestApp;
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  beforeAll(async () => {
    t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false', JWT_PUBLIC_KEY: pub } });
  });
  afterAll(() => t.close());

  it('accepts an RS256 token signed by the private key', async () => {
    const token = jwt.sign({ sub: 'u1' }, privateKey, { algorithm: 'RS256', expiresIn: 60 });
    await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(token)).expect(200);
  });

  it('rejects HS256 signed with the public key (algorithm confusion) and HS256 with the secret', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const body = b64({ sub: 'u1', exp: Math.floor(Date.now() / 1000) + 60 });
    const { createHmac } = await import('node:crypto');
    const sig = createHmac('sha256', pub).update(`${header}.${body}`).digest('base64url');
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(`${header}.${body}.${sig}`)), 'AUTH_002');
    expectAuthError(await request(t.app.getHttpServer()).get('/schedule/active').set(bearer(tokenFor('u1'))), 'AUTH_002');
  });
});
