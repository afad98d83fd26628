import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ErrorBodySchema } from './error-body.schema';
import captured from './openapi-examples.json';
import { routeInventory } from './route-inventory';

export const DOCS_PATH = 'docs';
export const BEARER_SCHEME = 'bearer';
const ERROR_REF = { $ref: '#/components/schemas/ErrorBodySchema' };
const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

// Request and response bodies recorded from a real run of the service (simulated provider).
interface CapturedOperation {
  request?: unknown;
  status: string;
  response?: unknown;
}
const CAPTURED = captured as { operations: Record<string, CapturedOperation>; errors: Record<'400' | '404', Record<string, unknown>> };

const STANDARD_ERRORS: Record<string, { description: string; example: Record<string, unknown> }> = {
  '400': { description: 'Invalid request: a bad value, a missing or unknown field', example: CAPTURED.errors['400'] },
  '401': { description: 'Missing, invalid or expired bearer token', example: errorExample('AUTH_001', 'Missing bearer token', 'Authorization', 'Send Authorization: Bearer <JWT>') },
  '403': { description: 'The token lacks the admin role this route needs', example: errorExample('AUTH_005', 'Insufficient role', 'Authorization', 'This route requires the admin role') },
  '429': { description: 'Rate limit of this token (or address) exceeded; see Retry-After', example: errorExample('RATE_001', 'Too many requests', null, 'Too many requests') },
  '500': { description: 'Unexpected error; the body carries error_id only', example: errorExample('INTERNAL_001', 'Internal server error', null, 'Unexpected error; quote error_id 0f5c1c8e-4a57-4a8e-9a59-8c3c2f7f4f1e') },
};

function errorExample(code: string, message: string, field: string | null, issue: string) {
  return { status: 'error', message, error_code: code, details: { field, issue }, timestamp: '2026-11-22T01:37:52.769Z', error_id: '0f5c1c8e-4a57-4a8e-9a59-8c3c2f7f4f1e' };
}

type MediaType = { schema?: unknown; example?: unknown };
type Response = { description?: string; content?: Record<string, MediaType>; $ref?: string };
type Operation = {
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in?: string }>;
  requestBody?: { content?: Record<string, MediaType> };
  responses?: Record<string, Response>;
};

const NOT_FOUND = { description: 'No such record for this caller (or not an id)', example: CAPTURED.errors['404'] };
const WEBHOOK_REFUSED = {
  description: 'Missing or wrong X-Twilio-Signature, or not form-encoded',
  example: errorExample('WEBHOOK_001', 'Invalid webhook signature', 'X-Twilio-Signature', 'The signature does not match the request'),
};

function withExample(response: Response, example: unknown): void {
  const json = (response.content ??= {})['application/json'] ?? (response.content['application/json'] = {});
  json.example ??= example;
}

// The controllers' decorators (and, in builds, the Nest CLI plugin) describe each route; this fills in
// what is the same everywhere, so routes of every module get it without per-route code: the standard
// error body for every error response, the bearer requirement on JWT routes, a tag per resource.
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Call Scheduler API')
    .setDescription(
      'Schedules outbound phone calls on time, exactly once. Every route except webhooks, health, metrics and the job-admin sign-in needs ' +
        '`Authorization: Bearer <JWT>` (HS256 with JWT_SECRET, or RS256 with JWT_PUBLIC_KEY; claims: sub, exp, optional tenant_id, roles, user_profile_id, agent_instance_ids). ' +
        'Errors share one body (ErrorBodySchema); `error_id` is the request id also returned in X-Request-Id.',
    )
    .setVersion('1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT with sub and exp; roles: ["admin"] for admin routes' }, BEARER_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ErrorBodySchema] });
  const routes = new Map(routeInventory(app).map((r) => [`${r.method} ${r.path}`, r]));
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = (item as Record<string, Operation | undefined>)[method];
      if (!operation) continue;
      const route = routes.get(`${method} ${path}`);
      const isPublic = route?.isPublic ?? false;
      const isAdminOnly = route?.isAdminOnly ?? false;
      if (!operation.tags || operation.tags.length === 0) operation.tags = [path.split('/')[1] || 'root'];
      if (!isPublic) operation.security ??= [{ [BEARER_SCHEME]: [] }];
      const responses = (operation.responses ??= {});
      const errors = { ...STANDARD_ERRORS };
      if (path.includes('{')) errors['404'] = NOT_FOUND;
      if (path.startsWith('/webhook/')) errors['403'] = WEBHOOK_REFUSED;
      for (const [status, standard] of Object.entries(errors)) {
        if (isPublic && status === '401' && path !== '/metrics') continue;
        if (status === '403' && !isAdminOnly && !path.startsWith('/webhook/')) continue;
        if (status === '429' && /^\/(webhook|health|metrics)/.test(path)) continue;
        const existing = responses[status];
        if (!existing) {
          responses[status] = { description: standard.description, content: { 'application/json': { schema: ERROR_REF, example: standard.example } } };
        } else if (!existing.content && !existing.$ref) {
          existing.content = { 'application/json': { schema: ERROR_REF, example: standard.example } };
        }
      }
      const recorded = CAPTURED.operations[`${method} ${path}`];
      if (recorded?.request !== undefined && operation.requestBody) {
        const json = (operation.requestBody.content ??= {})['application/json'] ?? (operation.requestBody.content['application/json'] = {});
        json.example ??= recorded.request;
      }
      if (recorded?.response !== undefined) withExample((responses[recorded.status] ??= { description: 'Success' }), recorded.response);
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) >= 400 && !response.content && !response.$ref) response.content = { 'application/json': { schema: ERROR_REF } };
      }
    }
  }
  return document;
}

// Swagger UI at /docs with its assets from swagger-ui-dist (no CDN), the document at /docs-json.
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: `${DOCS_PATH}-json`,
    customSiteTitle: 'Call Scheduler API',
    swaggerOptions: { persistAuthorization: false },
  });
}
