import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cluster, RunContext, Scenario, call, fail, result, tokenFor } from '../lib/harness';
import { discoverRoutes, Route } from '../lib/routes';
import { Rng, waitUntil } from '../lib/util';

// Bodies that pass validation, so that an answer other than 404 cannot hide behind a 400.
const BODIES: Array<[RegExp, unknown]> = [
  [/^PUT \/schedule\/:id$/, { description: 'hijacked by tenant A' }],
  [/^PATCH \/notifications\/subscriptions\/:id$/, { description: 'hijacked by tenant A' }],
  [/^PUT \/notifications\/subscriptions\/:id$/, { url: 'https://example.com/hijack', events: ['*'] }],
  [/^PATCH \/campaigns\/:id$/, { name: 'hijacked by tenant A' }],
  [/^POST \/campaigns\/:id\/contacts$/, [{ phone: '+14155558999', name: 'Mallory' }]],
];

function bodyFor(route: Route): unknown {
  return BODIES.find(([re]) => re.test(`${route.method} ${route.path}`))?.[1] ?? {};
}

function stripVolatile(json: any): string {
  return JSON.stringify(json, (key, value) => (key === 'timestamp' && typeof value === 'string' && !Array.isArray(json) ? undefined : value));
}

// Tenant A aims every by-id route at tenant B's schedules, call logs, subscriptions, deliveries and
// campaigns: always 404, and B's records read the same before and after.
export const tenantIsolation: Scenario = {
  id: 9,
  name: 'tenant-isolation',
  async run(ctx: RunContext) {
    const r = result('tenant-isolation');
    const rng = new Rng(ctx.seed).fork(9);
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const cluster = await Cluster.start(ctx, { name: 'tenants', instances: 1, rng, env: { NOTIFICATION_ALLOW_PRIVATE_URLS: 'true' } });
    try {
      const url = cluster.services[0].url;
      const a = tokenFor(ctx, 'tenant-a');
      const b = tokenFor(ctx, 'tenant-b');
      // Far enough ahead for a slow create to still be in the future, near enough to dial within the run.
      const soon = new Date(Date.now() + 20_000).toISOString();
      const later = new Date(Date.now() + 20 * 24 * 3600_000).toISOString();

      // B's records: a subscription, a future schedule, a paused one, one that dials (call log,
      // deliveries), and a campaign if campaigns exist.
      const sub = await call(url, 'POST', '/notifications/subscriptions', { token: b, json: { url: receiverUrl, events: ['*'], description: 'tenant B hook' } });
      if (sub.status !== 201) throw new Error(`B subscription: ${sub.status} ${sub.text}`);
      const subId: string = sub.json.id ?? sub.json.subscription?.id;
      const future = await call(url, 'POST', '/schedule/', { token: b, json: { phone: '+14155558001', scheduled_time: later, description: 'B future' } });
      const paused = await call(url, 'POST', '/schedule/', { token: b, json: { phone: '+14155558002', scheduled_time: later, repeat_config: { enabled: true, frequency: 'daily' } } });
      await call(url, 'POST', `/schedule/${paused.json.schedule_id}/pause`, { token: b });
      const dialing = await call(url, 'POST', '/schedule/', { token: b, json: { phone: '+14155558003', scheduled_time: soon, description: 'B dials' } });
      for (const [name, res] of [['future', future], ['paused', paused], ['dialing', dialing]] as const) {
        if (res.status !== 200) throw new Error(`B's ${name} schedule was not created: ${res.status} ${res.text.slice(0, 200)}`);
      }
      const scheduleIds: string[] = [future.json.schedule_id, paused.json.schedule_id, dialing.json.schedule_id];
      const { routes, source } = await discoverRoutes(cluster.services[0]);
      let campaignId: string | null = null;
      if (routes.some((rt) => rt.path.startsWith('/campaigns'))) {
        const camp = await call(url, 'POST', '/campaigns', { token: b, json: { name: 'B campaign' } });
        campaignId = camp.json?.id ?? camp.json?.campaign?.id ?? camp.json?.campaign_id ?? null;
        if (!campaignId) r.notes.push(`could not create a campaign for B (${camp.status} ${camp.text.slice(0, 200)}); campaign routes tried with a random id`);
      } else r.notes.push('no /campaigns routes in this build: campaigns not covered');
      const settled = await waitUntil(async () => (await call(url, 'GET', `/schedule/${dialing.json.schedule_id}`, { token: b })).json?.schedule?.status === 'completed', 300_000);
      if (!settled) r.notes.push('B\'s dialing schedule did not complete within 300 s');
      // Settled first: a delivery still being sent changes on its own, and would read as changed by A.
      await waitUntil(async () => {
        const listed: Array<{ status: string }> = (await call(url, 'GET', '/notifications/deliveries', { token: b })).json?.deliveries ?? [];
        return listed.length > 0 && listed.every((d) => d.status !== 'pending' && d.status !== 'retrying');
      }, 60_000);
      const deliveries = (await call(url, 'GET', '/notifications/deliveries', { token: b })).json?.deliveries ?? [];
      const deliveryId: string | null = deliveries[0]?.id ?? null;
      const logs = (await call(url, 'GET', `/schedule/tracking/logs?schedule_id=${dialing.json.schedule_id}`, { token: b })).json?.logs ?? [];
      const logId: string | null = logs[0]?.id ?? null;
      if (!deliveryId || !logId) r.notes.push(`B has delivery ${deliveryId ?? 'none'} and call log ${logId ?? 'none'}`);

      // B's view before.
      const bReads: string[] = [
        ...scheduleIds.map((id) => `/schedule/${id}`),
        `/notifications/subscriptions/${subId}`,
        ...(deliveryId ? [`/notifications/deliveries/${deliveryId}`] : []),
        ...(campaignId ? [`/campaigns/${campaignId}`, `/campaigns/${campaignId}/contacts`] : []),
        `/schedule/tracking/logs?schedule_id=${dialing.json.schedule_id}`,
        '/notifications/subscriptions',
      ];
      const snapshot = async () => Promise.all(bReads.map(async (p) => stripVolatile((await call(url, 'GET', p, { token: b })).json)));
      const before = await snapshot();

      // Every by-id route of every resource family, aimed at each of B's ids of that family.
      const families: Array<{ prefix: RegExp; ids: string[] }> = [
        { prefix: /^\/schedule\/:id/, ids: scheduleIds },
        { prefix: /^\/notifications\/subscriptions\/:id/, ids: [subId] },
        { prefix: /^\/notifications\/deliveries\/:id/, ids: deliveryId ? [deliveryId] : [] },
        { prefix: /^\/campaigns\/:id/, ids: campaignId ? [campaignId] : [] },
      ];
      const attempts: string[] = [];
      const wrong: string[] = [];
      const leaks: string[] = [];
      const secrets = [...scheduleIds, subId, '+14155558001', '+14155558002', '+14155558003', 'tenant B hook', 'B campaign', ...(logId ? [logId] : [])];
      for (const fam of families) {
        for (const route of routes.filter((rt) => fam.prefix.test(rt.path))) {
          for (const id of fam.ids) {
            const path = route.path.replace(/:[A-Za-z_]+/, id);
            const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? bodyFor(route) : undefined;
            const res = await call(url, route.method, path, { token: a, json: body });
            attempts.push(`${route.method} ${route.path}`);
            if (res.status !== 404) wrong.push(`${route.method} ${path} -> ${res.status} ${res.text.slice(0, 120)}`);
            for (const s of secrets) if (res.text.includes(s) && s !== id) leaks.push(`${route.method} ${path} revealed ${s}`);
          }
        }
      }
      // Filters by B's ids in A's lists: empty, never B's records.
      for (const path of [
        `/schedule/tracking/logs?schedule_id=${dialing.json.schedule_id}`,
        `/schedule/tracking/stats?schedule_id=${dialing.json.schedule_id}`,
        '/schedule?limit=500',
        '/schedule/active?limit=500',
        '/notifications/subscriptions',
        `/notifications/deliveries?subscription_id=${subId}`,
        ...(routes.some((rt) => rt.path === '/campaigns' && rt.method === 'GET') ? ['/campaigns'] : []),
      ]) {
        const res = await call(url, 'GET', path, { token: a });
        attempts.push(`GET ${path.split('?')[0]} (A's list)`);
        if (res.status !== 200) wrong.push(`GET ${path} -> ${res.status}`);
        for (const s of secrets) if (res.text.includes(s)) leaks.push(`GET ${path} revealed ${s}`);
        if (path.includes('/stats') && res.json?.total_calls !== 0) wrong.push(`GET ${path}: A's stats count B's calls (${res.json?.total_calls})`);
      }
      const after = await snapshot();
      const changed = bReads.filter((_, i) => before[i] !== after[i]);

      r.occurrences = attempts.length;
      r.faults = attempts.length;
      r.lost = changed.length;
      r.details.routes_source = source;
      r.details.routes_tried = [...new Set(attempts)];
      if (wrong.length > 0) fail(r, `${wrong.length} cross-tenant request(s) not answered 404 (or an empty list): ${wrong.slice(0, 6).join('; ')}`);
      if (leaks.length > 0) fail(r, `${leaks.length} response(s) revealed B's data: ${leaks.slice(0, 5).join('; ')}`);
      if (changed.length > 0) fail(r, `B's records changed: ${changed.join(', ')}`);
      for (const crash of cluster.crashes()) fail(r, `service crashed: ${crash}`);
      r.notes.push(`${attempts.length} cross-tenant requests over ${new Set(attempts).size} routes (schedules, call logs, subscriptions, deliveries${campaignId ? ', campaigns' : ''}); ${wrong.length} not 404, ${changed.length} of B's records changed`);
    } finally {
      await cluster.stop();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
    return r;
  },
};
