#!/usr/bin/env node
'use strict';
// Mints a bearer token the service accepts. Prints only the token on stdout.
//   npm run -s token -- --sub alice [--role admin] [--ttl 1h] [--tenant t1] [--user-profile-id p1] [--agent-instance a1] [--private-key key.pem]
const fs = require('node:fs');
const path = require('node:path');

const USAGE = `Usage: npm run -s token -- --sub <id> [options]

  --sub <id>               subject (required); also the tenant when --tenant is not given
  --role <role>            add a role to the roles claim (repeatable; "admin" sees every tenant)
  --ttl <n>{s|m|h|d}       lifetime, e.g. 30s, 15m, 1h, 7d (default 1h)
  --tenant <id>            tenant_id claim
  --user-profile-id <id>   user_profile_id claim
  --agent-instance <id>    add an agent instance to the agent_instance_ids claim (repeatable)
  --private-key <file>     PEM private key; required (and used, RS256) when JWT_PUBLIC_KEY is set
  -h, --help               show this help

Reads JWT_SECRET, JWT_PUBLIC_KEY, JWT_ISSUER and JWT_AUDIENCE from the environment, then from .env.`;

function usageError(message) {
  process.stderr.write(`token: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function fail(message) {
  process.stderr.write(`token: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { roles: [], agentInstances: [], ttl: '1h' };
  const valued = {
    '--sub': (v) => (opts.sub = v),
    '--role': (v) => opts.roles.push(v),
    '--ttl': (v) => (opts.ttl = v),
    '--tenant': (v) => (opts.tenant = v),
    '--user-profile-id': (v) => (opts.userProfileId = v),
    '--agent-instance': (v) => opts.agentInstances.push(v),
    '--private-key': (v) => (opts.privateKey = v),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const setter = valued[name];
    if (!setter) usageError(`unknown argument "${arg}"`);
    let value;
    if (name !== arg) value = arg.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined || value.startsWith('--')) usageError(`${name} needs a value`);
    }
    if (value === '') usageError(`${name} needs a non-empty value`);
    setter(value);
  }
  if (!opts.sub) usageError('--sub is required');
  return opts;
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 };

function ttlSeconds(ttl) {
  const match = /^(\d+)([smhd])$/.exec(ttl);
  if (!match || Number(match[1]) === 0) usageError(`--ttl must look like 30s, 15m, 1h or 7d (got "${ttl}")`);
  return Number(match[1]) * UNIT_SECONDS[match[2]];
}

// Unset and empty count alike, as in the service's own config.
function env(name) {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const ttl = ttlSeconds(opts.ttl);

  const envFile = path.resolve(__dirname, '..', '.env');
  // Variables already in the environment win over .env.
  if (fs.existsSync(envFile)) process.loadEnvFile(envFile);

  let jwt;
  try {
    jwt = require('jsonwebtoken');
  } catch {
    fail('jsonwebtoken is not installed; run `npm ci` first');
  }

  const publicKey = env('JWT_PUBLIC_KEY');
  let key;
  let algorithm;
  if (publicKey) {
    if (!opts.privateKey) {
      fail('JWT_PUBLIC_KEY is set, so the service only accepts RS256 tokens: pass --private-key <pem file> of the matching key pair');
    }
    try {
      key = fs.readFileSync(path.resolve(opts.privateKey), 'utf8');
    } catch (error) {
      fail(`cannot read --private-key ${opts.privateKey}: ${error.message}`);
    }
    algorithm = 'RS256';
  } else {
    if (opts.privateKey) fail('--private-key was given but JWT_PUBLIC_KEY is not set; the service expects HS256 tokens signed with JWT_SECRET');
    key = env('JWT_SECRET');
    if (!key) fail('JWT_SECRET is not set: export it, or run `npm start` once (it creates .env with a random JWT_SECRET)');
    if (Buffer.byteLength(key, 'utf8') < 32) fail('JWT_SECRET must be at least 32 bytes');
    algorithm = 'HS256';
  }

  const payload = { sub: opts.sub, roles: opts.roles };
  if (opts.tenant) payload.tenant_id = opts.tenant;
  if (opts.userProfileId) payload.user_profile_id = opts.userProfileId;
  if (opts.agentInstances.length > 0) payload.agent_instance_ids = opts.agentInstances;
  const options = { algorithm, expiresIn: ttl };
  if (env('JWT_ISSUER')) options.issuer = env('JWT_ISSUER');
  if (env('JWT_AUDIENCE')) options.audience = env('JWT_AUDIENCE');

  let token;
  try {
    token = jwt.sign(payload, key, options);
  } catch (error) {
    fail(`signing failed: ${error.message}`);
  }

  if (algorithm === 'RS256') {
    // Catch a key that does not match the service's public key here rather than as a 401 later.
    try {
      jwt.verify(token, publicKey.replace(/\\n/g, '\n'), { algorithms: ['RS256'] });
    } catch (error) {
      fail(`the token does not verify against JWT_PUBLIC_KEY (${error.message}); is --private-key the matching key?`);
    }
  }
  process.stdout.write(`${token}\n`);
}

main();
