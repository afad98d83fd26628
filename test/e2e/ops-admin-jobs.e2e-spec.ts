import request from 'supertest';
import { buildService, RunningService, startBuiltService } from '../utils/built-service';
import { createTestApp, TestApp } from '../utils/test-app';
import { TEST_JWT_SECRET, testDatabaseUri } from '../utils/test-config';
import { bearer, tokenFor } from '../utils/tokens';

describe('job admin at /admin/jobs (ops e2e)', () => {
  const admin = tokenFor('ops-admin', { roles: ['admin'] });
  const user = tokenFor('ops-user');
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 401 without a token and 403 for a non-admin, in the standard error body', async () => {
    const server = t.app.getHttpServer();
    const none = await request(server).get('/admin/jobs/').expect(401);
    expect(none.body).toMatchObject({ status: 'error', error_code: 'AUTH_001', error_id: none.headers['x-request-id'] });
    await request(server).get('/admin/jobs/api').expect(401);
    const forbidden = await request(server).get('/admin/jobs/').set(bearer(user)).expect(403);
    expect(forbidden.body.error_code).toBe('AUTH_005');
    await request(server).get('/admin/jobs/api').set(bearer(user)).expect(403);
    await request(server).get('/admin/jobs/api').set('Cookie', 'cs_admin_session=forged.value').expect(401);
    await request(server).post('/admin/session').set(bearer(user)).expect(403);
    await request(server).post('/admin/session').expect(401);
  });

  // Agendash is an ES module that jest (Node 20) cannot require; plain Node loads it (require(esm)). Under
  // jest the admin therefore gets past the gate to a 500 from the loader, never a 401/403.
  const passesGate = async (req: request.Test) => {
    const res = await req;
    expect([401, 403]).not.toContain(res.status);
    if (res.status === 200) expect(res.text).toContain('Agendash');
  };

  it('lets an admin bearer token through to Agendash', async () => {
    const server = t.app.getHttpServer();
    await passesGate(request(server).get('/admin/jobs/').set(bearer(admin)));
    await passesGate(request(server).get('/admin/jobs/api').set(bearer(admin)));
  });

  it('lets a browser in with a short-lived, HttpOnly cookie scoped to /admin/jobs, exchanged for the admin token', async () => {
    const server = t.app.getHttpServer();
    const signIn = await request(server).get('/admin/session').expect(200);
    expect(signIn.text).toContain('<form method="post" action="/admin/session">');
    const res = await request(server).post('/admin/session').type('form').send({ token: admin }).expect(303);
    expect(res.headers.location).toBe('/admin/jobs/');
    const cookie = (res.headers['set-cookie'] as unknown as string[])[0];
    expect(cookie).toMatch(/^cs_admin_session=[^;]+; Max-Age=900; Path=\/admin\/jobs; Expires=[^;]+; HttpOnly; SameSite=Strict$/);
    const value = cookie.split(';')[0];
    expect(value).not.toContain(admin);
    await passesGate(request(server).get('/admin/jobs/').set('Cookie', value));
    await passesGate(request(server).get('/admin/jobs/api').set('Cookie', value));
    // The cookie is no API token.
    await request(server).get('/schedule').set('Cookie', value).expect(401);
    const viaHeader = await request(server).post('/admin/session').set(bearer(admin)).expect(303);
    expect(viaHeader.headers['set-cookie']).toBeDefined();
  });
});

// The same routes in the service as it runs in production (plain Node), where Agendash itself loads.
describe('job admin in the running service (ops e2e)', () => {
  let service: RunningService;
  const admin = tokenFor('ops-admin', { roles: ['admin'] });

  beforeAll(async () => {
    const outDir = await buildService('ops-admin-jobs-build');
    service = await startBuiltService(outDir, { JWT_SECRET: TEST_JWT_SECRET, MONGODB_URI: testDatabaseUri() });
  }, 120_000);
  afterAll(async () => {
    expect(await service?.stop()).toBe(0);
  });

  it('serves the Agendash page, its bundled assets and its API to an admin, through the cookie a browser gets', async () => {
    expect((await fetch(`${service.url}/admin/jobs/`)).status).toBe(401);
    expect((await fetch(`${service.url}/admin/jobs/`, { headers: { Authorization: `Bearer ${tokenFor('someone')}` } })).status).toBe(403);
    const session = await fetch(`${service.url}/admin/session`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${admin}` });
    expect(session.status).toBe(303);
    const cookie = session.headers.get('set-cookie')!.split(';')[0];
    const page = await fetch(`${service.url}/admin/jobs/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<title>Agendash</title>');
    const assets = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) expect((await fetch(`${service.url}/admin/jobs/${asset}`, { headers: { cookie } })).status).toBe(200);
    const api = await fetch(`${service.url}/admin/jobs/api`, { headers: { cookie } });
    expect(api.status).toBe(200);
    const body = (await api.json()) as { overview: Array<{ displayName: string }> };
    expect(body.overview.map((o) => o.displayName)).toEqual(expect.arrayContaining(['audit.cleanup']));
  });
});
