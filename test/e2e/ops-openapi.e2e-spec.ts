import request from 'supertest';
import { openApiPath } from '../../src/docs/route-inventory';
import { createTestApp, TestApp } from '../utils/test-app';

interface ExpressLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
}


// The Swagger UI's own routes are not API routes.
const NOT_API = /^\/docs(-json|-yaml|\/|$)/;

describe('OpenAPI document (ops e2e)', () => {
  let t: TestApp;
  let spec: { paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }>>; components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> } };

  beforeAll(async () => {
    t = await createTestApp();
    const res = await request(t.app.getHttpServer()).get('/docs-json').expect(200);
    spec = res.body;
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists every route registered on the Express router, whichever module registered it', () => {
    const router = (t.app.getHttpAdapter().getInstance() as { router: { stack: ExpressLayer[] } }).router;
    const registered: string[] = [];
    for (const layer of router.stack) {
      if (!layer.route) continue;
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const path of paths) {
        // Nest mounts middleware as a catch-all route on every method; that is not an endpoint.
        if (NOT_API.test(path) || path.includes('{*splat}') || path.includes('{/*splat}')) continue;
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') registered.push(`${method} ${openApiPath(path)}`);
      }
    }
    expect(registered.length).toBeGreaterThan(20);
    expect(registered).toEqual(expect.arrayContaining(['post /schedule', 'get /audit', 'post /webhook/call-status', 'get /health/ready']));
    const documented = new Set(Object.entries(spec.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`)));
    const missing = registered.filter((r) => !documented.has(r));
    expect(missing).toEqual([]);
  });

  it('describes the bearer scheme, applies it to JWT routes only, and shares one error body schema', () => {
    expect(spec.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(spec.components.schemas.ErrorBodySchema).toBeDefined();
    expect(spec.paths['/schedule']!.post!.security).toEqual([{ bearer: [] }]);
    expect(spec.paths['/health']!.get!.security).toBeUndefined();
    expect(spec.paths['/webhook/call-status']!.post!.security).toBeUndefined();
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          expect({ route: `${method} ${path}`, status, ref: response.content?.['application/json']?.schema?.$ref }).toEqual({
            route: `${method} ${path}`,
            status,
            ref: '#/components/schemas/ErrorBodySchema',
          });
        }
      }
    }
  });

  it('carries examples recorded from real requests and the error bodies each route can answer with', () => {
    const create = spec.paths['/schedule']!.post! as unknown as { requestBody: { content: Record<string, { example?: Record<string, unknown> }> }; responses: Record<string, { content?: Record<string, { example?: Record<string, unknown> }> }> };
    expect(create.requestBody.content['application/json'].example).toMatchObject({ phone: expect.stringMatching(/^\+\d+$/), scheduled_time: expect.any(String) });
    expect(create.responses['200'].content!['application/json'].example).toMatchObject({ status: 'success', schedule_id: expect.any(String) });
    expect(Object.keys(create.responses)).not.toContain('201');
    expect(create.responses['400'].content!['application/json'].example).toMatchObject({ status: 'error', error_code: 'SCHEDULE_001' });
    const get = spec.paths['/schedule/{id}']!.get! as unknown as { responses: Record<string, { content?: Record<string, { example?: Record<string, unknown> }> }> };
    expect(get.responses['404'].content!['application/json'].example).toMatchObject({ error_code: 'SCHEDULE_009' });
    expect(get.responses['200'].content!['application/json'].example).toMatchObject({ status: 'success', schedule: { status: 'completed' } });
    expect(Object.keys(spec.paths['/audit']!.get!.responses)).toEqual(expect.arrayContaining(['401', '403']));
    expect(Object.keys(get.responses)).not.toContain('403');
    const webhook = spec.paths['/webhook/call-status']!.post!;
    expect(Object.keys(webhook.responses)).toEqual(expect.arrayContaining(['403']));
    expect(Object.keys(webhook.responses)).not.toEqual(expect.arrayContaining(['401']));
    expect(Object.keys(webhook.responses)).not.toContain('429');
  });

  it('serves Swagger UI and its assets from the service itself', async () => {
    const page = await request(t.app.getHttpServer()).get('/docs').redirects(1).expect(200);
    expect(page.text).toContain('swagger-ui');
    expect(page.text).not.toMatch(/https?:\/\/(cdn|unpkg|cdnjs)/);
    const bundle = await request(t.app.getHttpServer()).get('/docs/swagger-ui-bundle.js').expect(200);
    expect(bundle.text.length).toBeGreaterThan(100_000);
  });
});
