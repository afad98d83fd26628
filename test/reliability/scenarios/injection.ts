import { Cluster, HttpAnswer, RunContext, Scenario, call, fail, result, tokenFor } from '../lib/harness';
import { countOf, pool, Rng } from '../lib/util';

interface Probe {
  name: string;
  method: string;
  path: string;
  body?: string | Buffer;
  contentType?: string;
  // Statuses that count as correct; anything else fails (a 5xx always does).
  expect: number[];
}

const FUTURE = () => new Date(Date.now() + 20 * 24 * 3600_000).toISOString();

// The standard error body: {status:"error", message, error_code, details:{field, issue}, timestamp}.
export function isErrorBody(json: any): boolean {
  return (
    json !== null &&
    typeof json === 'object' &&
    json.status === 'error' &&
    typeof json.message === 'string' &&
    typeof json.error_code === 'string' &&
    /^[A-Z]+_\d{3}$/.test(json.error_code) &&
    typeof json.details === 'object' &&
    json.details !== null &&
    'field' in json.details &&
    'issue' in json.details &&
    typeof json.timestamp === 'string' &&
    !Number.isNaN(Date.parse(json.timestamp))
  );
}

function nested(depth: number, leaf: string): string {
  return '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

const RANDOM_POOLS: Array<(rng: Rng) => string> = [
  (rng) => Array.from({ length: rng.int(0, 40) }, () => String.fromCodePoint(rng.int(0x20, 0x2fff))).join(''),
  (rng) => Array.from({ length: rng.int(1, 12) }, () => rng.pick(['🙂', '‮', '\u0000', '\uFEFF', '𝔘', 'ǅ', '\u200B', '\n', '\t', '"', '\\', "'", '<', '>', '&'])).join(''),
  (rng) => rng.pick(['$gt', '$ne', '$where', '{"$gt":""}', '{"$ne":null}', 'this.tenant_id != ""', "'; return true; var x='", '$regex', '.*', '__proto__', 'constructor', 'prototype']),
  (rng) => 'x'.repeat(rng.pick([0, 1, 127, 128, 129, 500, 501, 2000, 2001, 70_000])),
  (rng) => String(rng.pick([0, -1, 1e308, -0, 3.14, 2 ** 53 + 1, NaN, Infinity])),
  (rng) => rng.pick(['2027-02-30T10:00:00Z', '2027-13-01T00:00:00', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '2027-03-14T02:30:00', 'yesterday', '2027-01-01T00:00:00+25:00', '1e12']),
  (rng) => rng.pick(['+14155552671', '+1', '+999999999999999999', '0014155552671', '+1 (415) 555-2671', '+44 20 7946 0958', '911', '+1415555267١']),
  (rng) => rng.pick(['UTC', 'Mars/Olympus', 'America/New_York', 'Etc/GMT+14', '../../etc/passwd', 'utc', 'America/New_York\u0000']),
  (rng) => rng.pick(['%s%s%n', '${jndi:ldap://x}', '{{7*7}}', '<script>alert(1)</script>', "' OR 1=1 --", '../../../../etc/passwd', 'null', 'undefined', 'true', '[]', '{}']),
  (rng) => rng.pick(['* * * * *', '*/0 * * * *', '0 0 31 2 *', '@reboot', '@hourly', '60 * * * *', '0 0 * * 8', 'L W # H', '* * * * * *']),
  (rng) => rng.pick(['skip', 'run_once', 'outbound', 'daily', 'hourly', 'weekly', 'monthly', 'cron', 'fixed', 'exponential', 'busy', 'no-answer']),
];

// Leaf fields of POST /schedule/ (dot = nested) and a valid body to put each random string into.
const FIELDS = [
  'phone', 'scheduled_time', 'timezone', 'description', 'notes', 'call_type', 'agent_instance_id', 'user_profile_id',
  'misfire_policy', 'metadata', 'provider_options', 'repeat_config', 'retry_policy',
  'repeat_config.enabled', 'repeat_config.frequency', 'repeat_config.interval', 'repeat_config.cron', 'repeat_config.days_of_week',
  'repeat_config.end_date', 'repeat_config.max_occurrences',
  'retry_policy.max_attempts', 'retry_policy.retry_on', 'retry_policy.delay_seconds', 'retry_policy.backoff',
];

function validBody(phone: string): Record<string, any> {
  return {
    phone,
    scheduled_time: FUTURE(),
    timezone: 'UTC',
    description: 'fuzz',
    notes: 'fuzz',
    call_type: 'outbound',
    agent_instance_id: 'agent-1',
    user_profile_id: 'profile-1',
    misfire_policy: 'skip',
    metadata: { k: 'v' },
    provider_options: {},
    repeat_config: { enabled: true, frequency: 'daily', interval: 1, max_occurrences: 3 },
    retry_policy: { max_attempts: 1, retry_on: ['busy'], delay_seconds: 60, backoff: 'fixed' },
  };
}

function setField(body: Record<string, any>, field: string, value: string): Record<string, any> {
  const copy = JSON.parse(JSON.stringify(body));
  const [head, leaf] = field.split('.');
  if (leaf) copy[head][leaf] = value;
  else copy[head] = value;
  if (field.startsWith('repeat_config.') && leaf !== 'cron' && leaf !== 'frequency') copy.repeat_config.frequency = 'daily';
  if (leaf === 'cron') copy.repeat_config.frequency = 'cron';
  return copy;
}

// Operators, prototype keys, oversized and deeply nested payloads, invalid UTF-8, and random strings in
// every field of POST /schedule/: 4xx in the standard error body, never a 5xx, never another tenant's data.
export const injection: Scenario = {
  id: 8,
  name: 'injection-and-input',
  async run(ctx: RunContext) {
    const r = result('injection-and-input');
    const full = ctx.mode === 'full';
    const perField = full ? 1000 : 20;
    const rng = new Rng(ctx.seed).fork(8);
    const cluster = await Cluster.start(ctx, { name: 'injection', instances: 1, rng, env: { SCHEDULER_ENABLED: 'false' } });
    try {
      const url = cluster.services[0].url;
      const a = tokenFor(ctx, 'tenant-a');
      const b = tokenFor(ctx, 'tenant-b');
      // Tenant B's data, which nothing A does may ever reveal.
      const bPhones = ['+14155557001', '+14155557002', '+14155557003'];
      const bIds: string[] = [];
      for (const phone of bPhones) {
        const res = await call(url, 'POST', '/schedule/', { token: b, json: { phone, scheduled_time: FUTURE(), description: 'tenant-b-secret-description' } });
        if (res.status !== 200) throw new Error(`seeding tenant B failed: ${res.status} ${res.text}`);
        bIds.push(res.json.schedule_id);
      }
      const aSeed = await call(url, 'POST', '/schedule/', { token: a, json: { phone: '+14155557100', scheduled_time: FUTURE() } });
      const aId: string = aSeed.json.schedule_id;
      const secrets = [...bIds, ...bPhones, 'tenant-b-secret-description', 'tenant-b'];
      const leaks: string[] = [];
      const fivexx: string[] = [];
      const unexpected: string[] = [];
      const badErrorBodies: string[] = [];
      const statuses: string[] = [];
      const check = (name: string, res: HttpAnswer, expect: number[] | null) => {
        statuses.push(String(res.status));
        if (res.status >= 500) fivexx.push(`${name} -> ${res.status} ${res.text.slice(0, 200)}`);
        if (expect && !expect.includes(res.status)) unexpected.push(`${name} -> ${res.status} ${res.text.slice(0, 160)}`);
        if (res.status === 400 && !isErrorBody(res.json)) badErrorBodies.push(`${name}: ${res.text.slice(0, 160)}`);
        for (const s of secrets) if (res.text.includes(s)) leaks.push(`${name} revealed ${s}`);
      };

      const when = FUTURE();
      const json = 'application/json';
      const formCt = 'application/x-www-form-urlencoded';
      const probes: Probe[] = [
        // Operators in JSON bodies
        { name: 'json phone $gt', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: { $gt: '' }, scheduled_time: when }), contentType: json, expect: [400] },
        { name: 'json phone $ne', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: { $ne: null }, scheduled_time: when }), contentType: json, expect: [400] },
        { name: 'json scheduled_time $gt', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: { $gt: '' } }), contentType: json, expect: [400] },
        { name: 'json $where', method: 'POST', path: '/schedule/', body: JSON.stringify({ $where: 'sleep(5000) || true', phone: '+14155557101', scheduled_time: when }), contentType: json, expect: [400] },
        { name: 'json metadata $where', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, metadata: { $where: '1' } }), contentType: json, expect: [400] },
        { name: 'json metadata dotted key', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, metadata: { 'a.b': 1 } }), contentType: json, expect: [400] },
        { name: 'json nested operator in metadata', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, metadata: { x: { y: { $gt: 1 } } } }), contentType: json, expect: [400] },
        { name: 'json provider_options $set', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, provider_options: { $set: { tenant_id: 'tenant-b' } } }), contentType: json, expect: [400] },
        { name: 'json repeat_config operator', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, repeat_config: { $gt: '' } }), contentType: json, expect: [400] },
        { name: 'json tenant_id escalation', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, tenant_id: 'tenant-b' }), contentType: json, expect: [400] },
        { name: 'json created_by escalation', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, created_by: 'tenant-b' }), contentType: json, expect: [400] },
        { name: 'json array phone', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: ['+14155557101', '+14155557102'], scheduled_time: when }), contentType: json, expect: [400] },
        { name: 'put $set', method: 'PUT', path: `/schedule/${aId}`, body: JSON.stringify({ $set: { tenant_id: 'tenant-b' } }), contentType: json, expect: [400] },
        { name: 'put phone $ne', method: 'PUT', path: `/schedule/${aId}`, body: JSON.stringify({ phone: { $ne: '' } }), contentType: json, expect: [400] },
        // Prototype keys
        { name: 'json __proto__ top', method: 'POST', path: '/schedule/', body: `{"__proto__":{"isAdmin":true,"tenant_id":"tenant-b"},"phone":"+14155557101","scheduled_time":"${when}"}`, contentType: json, expect: [400] },
        { name: 'json constructor top', method: 'POST', path: '/schedule/', body: `{"constructor":{"prototype":{"polluted":"yes"}},"phone":"+14155557101","scheduled_time":"${when}"}`, contentType: json, expect: [400] },
        { name: 'json __proto__ in metadata', method: 'POST', path: '/schedule/', body: `{"phone":"+14155557101","scheduled_time":"${when}","metadata":{"__proto__":{"polluted":"yes"}}}`, contentType: json, expect: [400] },
        { name: 'json constructor in metadata', method: 'POST', path: '/schedule/', body: `{"phone":"+14155557101","scheduled_time":"${when}","metadata":{"constructor":{"prototype":{"polluted":"yes"}}}}`, contentType: json, expect: [400] },
        { name: 'json prototype in provider_options', method: 'POST', path: '/schedule/', body: `{"phone":"+14155557101","scheduled_time":"${when}","provider_options":{"prototype":{"polluted":"yes"}}}`, contentType: json, expect: [400] },
        { name: 'json __proto__ in repeat_config', method: 'POST', path: '/schedule/', body: `{"phone":"+14155557101","scheduled_time":"${when}","repeat_config":{"enabled":true,"frequency":"daily","__proto__":{"polluted":"yes"}}}`, contentType: json, expect: [400] },
        { name: 'subscription __proto__', method: 'POST', path: '/notifications/subscriptions', body: `{"url":"https://example.com/hook","events":["*"],"__proto__":{"polluted":"yes"}}`, contentType: json, expect: [400] },
        // Form bodies
        { name: 'form phone[$ne]', method: 'POST', path: '/schedule/', body: `phone[$ne]=&scheduled_time=${encodeURIComponent(when)}`, contentType: formCt, expect: [400, 415] },
        { name: 'form scheduled_time[$gt]', method: 'POST', path: '/schedule/', body: `phone=%2B14155557101&scheduled_time[$gt]=`, contentType: formCt, expect: [400, 415] },
        { name: 'form __proto__', method: 'POST', path: '/schedule/', body: `__proto__[isAdmin]=true&phone=%2B14155557101&scheduled_time=${encodeURIComponent(when)}`, contentType: formCt, expect: [400, 415] },
        { name: 'form $where', method: 'POST', path: '/schedule/', body: `$where=1&phone=%2B14155557101&scheduled_time=${encodeURIComponent(when)}`, contentType: formCt, expect: [400, 415] },
        // Query strings
        ...[
          '/schedule?phone[$ne]=x',
          '/schedule?status[$ne]=completed',
          '/schedule?$where=1',
          '/schedule?limit[$gt]=0',
          '/schedule?tenant_id=tenant-b',
          '/schedule?__proto__[x]=1',
          '/schedule?constructor[prototype][x]=1',
          '/schedule/active?limit[$gt]=0',
          '/schedule/tracking/logs?phone[$ne]=1',
          '/schedule/tracking/logs?schedule_id[$ne]=x',
          '/schedule/tracking/logs?user_profile_id[$regex]=.*',
          '/schedule/tracking/logs?status[$in]=completed',
          '/schedule/tracking/stats?schedule_id[$ne]=x',
          '/notifications/subscriptions?active[$ne]=false',
          '/notifications/deliveries?subscription_id[$ne]=x',
        ].map((path) => ({ name: `query ${path}`, method: 'GET', path, expect: [400] })),
        // A JSON-looking string is only a string: an empty list or a 400, never an operator.
        { name: 'query phone as JSON operator string', method: 'GET', path: '/schedule?phone=%7B%22%24ne%22%3Anull%7D', expect: [200, 400] },
        { name: 'path id operator', method: 'GET', path: '/schedule/%7B%22%24ne%22%3Anull%7D', expect: [400, 404] },
        { name: 'path id [object]', method: 'GET', path: '/schedule/%5Bobject%20Object%5D', expect: [400, 404] },
        { name: 'path id regex', method: 'GET', path: '/schedule/.*', expect: [400, 404] },
        // Oversized and deeply nested
        { name: 'json 300 KB', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, notes: 'n'.repeat(300_000) }), contentType: json, expect: [413] },
        { name: 'json 5 MB', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, notes: 'n'.repeat(5_000_000) }), contentType: json, expect: [413] },
        { name: 'metadata 20 KB', method: 'POST', path: '/schedule/', body: JSON.stringify({ phone: '+14155557101', scheduled_time: when, metadata: { big: 'm'.repeat(20_000) } }), contentType: json, expect: [400] },
        { name: 'metadata nested 9 levels', method: 'POST', path: '/schedule/', body: `{"phone":"+14155557101","scheduled_time":"${when}","metadata":${nested(9, '1')}}`, contentType: json, expect: [400] },
        { name: 'body nested 5,000 levels', method: 'POST', path: '/schedule/', body: `{"phone":"+14155557101","scheduled_time":"${when}","metadata":${nested(5000, '1')}}`, contentType: json, expect: [400] },
        { name: 'body nested 50,000 arrays', method: 'POST', path: '/schedule/', body: '['.repeat(50_000) + ']'.repeat(50_000), contentType: json, expect: [400] },
        { name: 'form 100 KB', method: 'POST', path: '/schedule/', body: `phone=%2B14155557101&notes=${'n'.repeat(100_000)}`, contentType: formCt, expect: [400, 413, 415] },
        // Encoding
        { name: 'invalid utf-8 json', method: 'POST', path: '/schedule/', body: Buffer.concat([Buffer.from('{"phone":"+1415555'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff]), Buffer.from(`","scheduled_time":"${when}"}`)]), contentType: json, expect: [400] },
        { name: 'invalid utf-8 charset', method: 'POST', path: '/schedule/', body: Buffer.from([0xfe, 0xff, 0x00, 0x7b]), contentType: 'application/json; charset=utf-16', expect: [400, 415] },
        { name: 'unknown charset', method: 'POST', path: '/schedule/', body: '{}', contentType: 'application/json; charset=klingon', expect: [400, 415] },
        { name: 'malformed json', method: 'POST', path: '/schedule/', body: '{"phone": "+14155557101", ', contentType: json, expect: [400] },
        { name: 'json null', method: 'POST', path: '/schedule/', body: 'null', contentType: json, expect: [400] },
        { name: 'json array body', method: 'POST', path: '/schedule/', body: '[{"phone":"+14155557101"}]', contentType: json, expect: [400] },
        { name: 'text/plain body', method: 'POST', path: '/schedule/', body: `{"phone":"+14155557101","scheduled_time":"${when}"}`, contentType: 'text/plain', expect: [400, 415] },
        { name: 'xml body', method: 'POST', path: '/schedule/', body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', contentType: 'application/xml', expect: [400, 415] },
      ];
      await pool(probes, 4, async (p) => {
        const res = await call(url, p.method, p.path, { token: a, body: p.body, headers: p.contentType ? { 'content-type': p.contentType } : {} }).catch(
          (error: unknown): HttpAnswer => ({ status: 0, text: `network error ${String(error)}`, json: null, headers: new Headers() }),
        );
        check(p.name, res, p.expect);
      });

      // Random strings into every field of POST /schedule/: 200 or a 4xx in the standard body.
      const fuzz: Array<{ field: string; value: string }> = [];
      for (const field of FIELDS) for (let i = 0; i < perField; i++) fuzz.push({ field, value: rng.pick(RANDOM_POOLS)(rng) });
      let created = 0;
      await pool(fuzz, 8, async ({ field, value }, i) => {
        const body = setField(validBody(`+1415${String(3000000 + i).padStart(7, '0')}`), field, value);
        const res = await call(url, 'POST', '/schedule/', { token: a, json: body }).catch(
          (error: unknown): HttpAnswer => ({ status: 0, text: `network error ${String(error)}`, json: null, headers: new Headers() }),
        );
        if (res.status === 200) created++;
        check(`random ${field}=${JSON.stringify(value.slice(0, 40))}`, res, [200, 400, 413]);
      });

      // Nothing A did may have leaked into, or polluted, what A and B read afterwards.
      for (const path of ['/schedule?limit=500', '/schedule/active?limit=500', '/schedule/tracking/logs', '/schedule/tracking/stats', '/notifications/subscriptions', '/notifications/deliveries']) {
        check(`A lists ${path}`, await call(url, 'GET', path, { token: a }), [200]);
      }
      const bView = await call(url, 'GET', '/schedule?limit=500', { token: b });
      const bCount = (bView.json?.schedules ?? bView.json?.items ?? bView.json?.data ?? []).length;
      const polluted = (await call(url, 'GET', `/schedule/${aId}`, { token: a })).text.includes('polluted');
      if (polluted) fail(r, 'a prototype-pollution marker appeared in a later response');
      // Still alive after the barrage (an API-only instance has no job scheduler, so liveness is the check).
      const live = (await fetch(`${url}/health`)).status;
      if (live !== 200) fail(r, `service not alive after the run: ${live}`);

      r.occurrences = probes.length + fuzz.length;
      r.faults = probes.length + fuzz.length;
      r.details.statuses = countOf(statuses);
      r.details.random_created = created;
      r.details.tenant_b_schedules_seen_by_b = bCount;
      if (fivexx.length > 0) fail(r, `${fivexx.length} 5xx: ${fivexx.slice(0, 5).join('; ')}`);
      if (leaks.length > 0) fail(r, `${leaks.length} response(s) revealed tenant B's data: ${leaks.slice(0, 5).join('; ')}`);
      if (unexpected.length > 0) fail(r, `${unexpected.length} unexpected status(es): ${unexpected.slice(0, 8).join('; ')}`);
      if (badErrorBodies.length > 0) fail(r, `${badErrorBodies.length} 400(s) without the standard error body: ${badErrorBodies.slice(0, 3).join('; ')}`);
      for (const crash of cluster.crashes()) fail(r, `service crashed: ${crash}`);
      r.details.unexpected = unexpected;
      r.notes.push(`${probes.length} targeted probes + ${fuzz.length} random field values (${perField} per field, ${FIELDS.length} fields; ${created} were valid and created); statuses ${JSON.stringify(r.details.statuses)}`);
    } finally {
      await cluster.stop();
    }
    return r;
  },
};
