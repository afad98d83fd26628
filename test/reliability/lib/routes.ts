import type { ServiceProcess } from './processes';

export interface Route {
  method: string;
  path: string;
}

// Used only if the running app's route table could not be read (neither its startup log nor /docs-json).
const MAINTAINED: Route[] = [
  { method: 'POST', path: '/schedule' },
  { method: 'GET', path: '/schedule' },
  { method: 'GET', path: '/schedule/active' },
  { method: 'GET', path: '/schedule/:id' },
  { method: 'PUT', path: '/schedule/:id' },
  { method: 'DELETE', path: '/schedule/:id' },
  { method: 'POST', path: '/schedule/:id/pause' },
  { method: 'POST', path: '/schedule/:id/resume' },
  { method: 'POST', path: '/schedule/:id/cancel' },
  { method: 'GET', path: '/schedule/tracking/logs' },
  { method: 'GET', path: '/schedule/tracking/stats' },
  { method: 'GET', path: '/notifications/stream' },
  { method: 'POST', path: '/notifications/subscriptions' },
  { method: 'GET', path: '/notifications/subscriptions' },
  { method: 'GET', path: '/notifications/subscriptions/:id' },
  { method: 'PATCH', path: '/notifications/subscriptions/:id' },
  { method: 'PUT', path: '/notifications/subscriptions/:id' },
  { method: 'DELETE', path: '/notifications/subscriptions/:id' },
  { method: 'GET', path: '/notifications/deliveries' },
  { method: 'GET', path: '/notifications/deliveries/:id' },
  { method: 'POST', path: '/notifications/deliveries/:id/redeliver' },
];

// Routes meant to be reachable without a bearer token: health probes, provider webhooks, API docs,
// the metrics scrape (its own token) and the dashboard's static shell.
const PUBLIC = /^\/(health|webhook|docs|api-docs|metrics|dashboard)(\/|$|-)/;

export function isPublic(route: Route): boolean {
  // The job admin's sign-in page is a static form; POST /admin/session verifies the token itself and is tested.
  return PUBLIC.test(route.path) || (route.method === 'GET' && route.path === '/admin/session');
}

// The running app's routes: Nest logs "Mapped {/path, METHOD} route" for each at start; /docs-json
// (Swagger), when served, adds any the log did not show.
export async function discoverRoutes(service: ServiceProcess): Promise<{ routes: Route[]; source: string }> {
  const found = new Map<string, Route>();
  for (const r of service.mappedRoutes) found.set(`${r.method} ${r.path}`, r);
  let source = found.size > 0 ? 'startup log' : '';
  for (const docs of ['/docs-json', '/api-docs-json', '/docs/json']) {
    try {
      const res = await fetch(`${service.url}${docs}`, { signal: AbortSignal.timeout(5000) });
      if (res.status !== 200) continue;
      const spec = (await res.json()) as { paths?: Record<string, Record<string, unknown>> };
      for (const [path, ops] of Object.entries(spec.paths ?? {})) {
        for (const method of Object.keys(ops)) {
          const route = { method: method.toUpperCase(), path: path.replace(/\{(\w+)\}/g, ':$1') };
          found.set(`${route.method} ${route.path}`, route);
        }
      }
      source = source ? `${source} + ${docs}` : docs;
      break;
    } catch {
      // no docs
    }
  }
  if (found.size === 0) return { routes: MAINTAINED, source: 'maintained list' };
  return { routes: [...found.values()].map((r) => ({ method: r.method, path: r.path.replace(/\/+$/, '') || '/' })), source };
}

export function concretePath(route: Route, id = '0123456789abcdef01234567'): string {
  return route.path.replace(/:[A-Za-z_]+/g, id);
}
