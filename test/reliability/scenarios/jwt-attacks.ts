import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { Cluster, RunContext, Scenario, fail, result } from '../lib/harness';
import { concretePath, discoverRoutes, isPublic, Route } from '../lib/routes';
import { pool, Rng } from '../lib/util';

const ISSUER = 'reliability-issuer';
const AUDIENCE = 'reliability-audience';

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

function assemble(header: object, payload: object, sign: (input: string) => string): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${sign(input)}`;
}

const rs256 = (privateKey: string) => (input: string) => createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url');
const hs256 = (secret: string | Buffer) => (input: string) => createHmac('sha256', secret).update(input).digest('base64url');

interface Attack {
  name: string;
  // The whole Authorization header, or null for none at all.
  header: string | null;
}

// Every attack gets 401 on every protected route, in both key set-ups (RS256 public key, HS256 secret).
export const jwtAttacks: Scenario = {
  id: 7,
  name: 'jwt-attacks',
  async run(ctx: RunContext) {
    const r = result('jwt-attacks');
    const rng = new Rng(ctx.seed).fork(7);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'attacker', tenant_id: 'attacker', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 3600 };
    const bearer = (token: string) => `Bearer ${token}`;
    const tamper = (token: string) => {
      const [h, , s] = token.split('.');
      return `${h}.${b64url(JSON.stringify({ ...claims, sub: 'victim', roles: ['admin'] }))}.${s}`;
    };
    const common = (sign: (i: string) => string, alg: string): Attack[] => [
      { name: 'alg_none', header: bearer(assemble({ alg: 'none', typ: 'JWT' }, claims, () => '')) },
      { name: 'alg_None_with_signature', header: bearer(assemble({ alg: 'None', typ: 'JWT' }, claims, sign)) },
      { name: 'expired', header: bearer(assemble({ alg, typ: 'JWT' }, { ...claims, iat: now - 7200, exp: now - 60 }, sign)) },
      { name: 'no_exp', header: bearer(assemble({ alg, typ: 'JWT' }, { ...claims, exp: undefined }, sign)) },
      { name: 'wrong_iss', header: bearer(assemble({ alg, typ: 'JWT' }, { ...claims, iss: 'https://evil.example' }, sign)) },
      { name: 'wrong_aud', header: bearer(assemble({ alg, typ: 'JWT' }, { ...claims, aud: 'someone-else' }, sign)) },
      { name: 'no_iss_aud', header: bearer(assemble({ alg, typ: 'JWT' }, { ...claims, iss: undefined, aud: undefined }, sign)) },
      { name: 'tampered_payload', header: bearer(tamper(assemble({ alg, typ: 'JWT' }, claims, sign))) },
      { name: 'not_yet_valid', header: bearer(assemble({ alg, typ: 'JWT' }, { ...claims, nbf: now + 3600 }, sign)) },
      { name: 'no_sub', header: bearer(assemble({ alg, typ: 'JWT' }, { ...claims, sub: undefined }, sign)) },
      { name: 'numeric_sub', header: bearer(assemble({ alg, typ: 'JWT' }, { ...claims, sub: 12345 }, sign)) },
      { name: 'empty_bearer', header: 'Bearer ' },
      { name: 'bare_bearer', header: 'Bearer' },
      { name: 'no_header', header: null },
      { name: 'basic_scheme', header: `Basic ${b64url('admin:admin')}` },
      { name: 'garbage', header: bearer('abc.def.ghi') },
      { name: 'two_tokens', header: `Bearer ${assemble({ alg: 'none' }, claims, () => '')} ${assemble({ alg: 'none' }, claims, () => '')}` },
    ];
    const setups: Array<{ name: string; env: Record<string, string>; control: string; attacks: Attack[] }> = [
      {
        name: 'rs256',
        env: { JWT_PUBLIC_KEY: rsa.publicKey, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
        control: bearer(assemble({ alg: 'RS256', typ: 'JWT' }, claims, rs256(rsa.privateKey))),
        attacks: [
          ...common(rs256(rsa.privateKey), 'RS256'),
          // Algorithm confusion: the public key (which is public) used as an HMAC secret.
          { name: 'hs256_signed_with_public_key', header: bearer(assemble({ alg: 'HS256', typ: 'JWT' }, claims, hs256(rsa.publicKey))) },
          { name: 'hs256_signed_with_jwt_secret', header: bearer(assemble({ alg: 'HS256', typ: 'JWT' }, claims, hs256(ctx.jwtSecret))) },
          { name: 'rs256_other_key', header: bearer(assemble({ alg: 'RS256', typ: 'JWT' }, claims, rs256(stranger.privateKey))) },
        ],
      },
      {
        name: 'hs256',
        env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
        control: bearer(assemble({ alg: 'HS256', typ: 'JWT' }, claims, hs256(ctx.jwtSecret))),
        attacks: [
          ...common(hs256(ctx.jwtSecret), 'HS256'),
          { name: 'hs256_wrong_secret', header: bearer(assemble({ alg: 'HS256', typ: 'JWT' }, claims, hs256('x'.repeat(64)))) },
          { name: 'rs256_any_key', header: bearer(assemble({ alg: 'RS256', typ: 'JWT' }, claims, rs256(stranger.privateKey))) },
        ],
      },
    ];

    let requests = 0;
    let hostile = 0;
    const wrong: string[] = [];
    for (const setup of setups) {
      const cluster = await Cluster.start(ctx, { name: `jwt-${setup.name}`, instances: 1, rng, env: setup.env });
      try {
        const service = cluster.services[0];
        const { routes, source } = await discoverRoutes(service);
        const protectedRoutes = routes.filter((rt) => !isPublic(rt));
        r.details[`${setup.name}_routes`] = { source, protected: protectedRoutes.map((rt) => `${rt.method} ${rt.path}`), public: routes.filter(isPublic).map((rt) => `${rt.method} ${rt.path}`) };
        const jobs: Array<{ route: Route; attack: Attack; control: boolean }> = [];
        for (const route of protectedRoutes) {
          jobs.push({ route, attack: { name: 'control_valid_token', header: setup.control }, control: true });
          for (const attack of setup.attacks) jobs.push({ route, attack, control: false });
        }
        await pool(jobs, 6, async ({ route, attack, control }) => {
          const status = await send(service.url, route, attack.header);
          requests++;
          if (!control) hostile++;
          if (control ? status === 401 || status === 0 : status !== 401) wrong.push(`${setup.name} ${attack.name} ${route.method} ${route.path} -> ${status}`);
        });
        ctx.log(`  ${setup.name}: ${protectedRoutes.length} protected routes (from ${source}) x ${setup.attacks.length} attacks`);
      } finally {
        await cluster.stop();
      }
    }
    r.occurrences = requests;
    r.faults = hostile;
    r.details.wrong = wrong;
    if (wrong.length > 0) fail(r, `${wrong.length} request(s) not answered as expected (attacks must get 401, the valid control token must not): ${wrong.slice(0, 8).join('; ')}`);
    r.notes.push(`${hostile} hostile requests over every protected route in RS256 and HS256 set-ups; ${wrong.length} not 401`);
    return r;
  },
};

// Status only: the body is dropped (the SSE stream would never end).
async function send(baseUrl: string, route: Route, authorization: string | null): Promise<number> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== null) headers.authorization = authorization;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30_000);
  try {
    const res = await fetch(`${baseUrl}${concretePath(route)}`, {
      method: route.method,
      headers,
      body: ['POST', 'PUT', 'PATCH'].includes(route.method) ? '{}' : undefined,
      signal: controller.signal,
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status;
  } catch {
    return 0;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
