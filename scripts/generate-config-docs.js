#!/usr/bin/env node
'use strict';
// Writes docs/configuration.md from the environment schema, src/config/environment.schema.ts.
//   node scripts/generate-config-docs.js           (npm run docs:config) write the page
//   node scripts/generate-config-docs.js --check   (npm run docs:config:check) exit 1 if the page is out of date
// Options, for testing this script: --schema <file> (or CONFIG_SCHEMA=<file>) reads another copy of the
// schema; --out <file> writes or checks another page.
//
// The schema module is loaded, not scanned: its .ts files are compiled in memory with swc (the transform
// jest and test/reliability/run.js use), so names, defaults and allowed values are those of the class the
// service validates with: its property initialisers and its class-validator metadata. Descriptions are
// the comments above each property; compilation drops comments, so they are read from the same file's
// syntax tree (TypeScript's parser). Groups are the table GROUPS below; a variable it does not name is
// listed under "Other".
const { readFileSync, writeFileSync, existsSync } = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_SCHEMA = path.join(ROOT, 'src', 'config', 'environment.schema.ts');
const DEFAULT_OUT = path.join(ROOT, 'docs', 'configuration.md');
const SCHEMA_CLASS = 'EnvironmentVariables';

const GROUPS = [
  ['Server', ['NODE_ENV', 'PORT', 'PUBLIC_BASE_URL', 'TWILIO_WEBHOOK_URL']],
  ['Database', ['MONGODB_URI', 'MONGODB_URL', 'DATABASE_NAME', 'EMBEDDED_DB_DIR', 'EMBEDDED_DB_ENGINE', 'FERRETDB_POSTGRESQL_URL']],
  ['Authentication', ['JWT_SECRET', 'JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_PUBLIC_KEY']],
  ['Call provider and Twilio', ['CALL_PROVIDER', 'TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM_NUMBER', 'TWILIO_FROM_NUMBERS', 'TWILIO_DEFAULT_TWIML_URL', 'TWILIO_CALL_TIMEOUT_SECONDS', 'TWILIO_TIME_LIMIT_SECONDS', 'TWILIO_REQUEST_TIMEOUT_MS', 'TWILIO_API_BASE_URL', 'VOICE_AGENT_STREAM_URL']],
  ['Voice-agent backend and task API', ['DEFAULT_BACKEND_BASE_URL', 'BACKEND_BASE_URL_ALLOWLIST', 'BACKEND_INTERNAL_TOKEN', 'BACKEND_REQUEST_TIMEOUT_MS', 'TASKS_API_TOKEN', 'TASKS_API_TENANT_ID']],
  ['Dialing', ['CALLS_PER_SECOND', 'CALLS_MIN_GAP_MS', 'CALLS_RATE_HEADROOM_PERCENT', 'MAX_CONCURRENT_CALLS', 'PROVIDER_MAX_RETRIES', 'PROVIDER_RETRY_BASE_MS', 'UNKNOWN_LOOKUP_DELAY_MS', 'CALL_RECONCILE_AFTER_MINUTES', 'CALL_UNKNOWN_SETTLE_AFTER_MINUTES', 'SAFE_MODE_ALLOWED_NUMBERS', 'CALLING_HOURS_DEFAULT', 'STATUS_CALLBACK_CONCURRENCY']],
  ['Simulator', ['SIMULATOR_SIGNING_TOKEN', 'SIMULATOR_STEP_MS']],
  ['Scheduler', ['SCHEDULER_ENABLED', 'SCHEDULER_TIMEZONE', 'SCHEDULER_MAX_INSTANCES', 'SCHEDULER_MISFIRE_GRACE_TIME', 'SCHEDULER_POLL_INTERVAL_MS', 'SCHEDULER_SWEEP_BATCH', 'SCHEDULER_CONCURRENCY', 'SCHEDULER_JOB_POLL_INTERVAL_MS', 'SCHEDULER_LOOKAHEAD_MS', 'SCHEDULER_LOCK_LIFETIME_MS', 'SCHEDULER_SHUTDOWN_TIMEOUT_MS', 'SCHEDULER_UNKNOWN_CLAIM_AFTER_SECONDS']],
  ['Campaigns', ['CAMPAIGN_TICK_INTERVAL_MS', 'CAMPAIGN_TICK_BATCH']],
  ['Notifications', ['NOTIFICATION_CHANNELS', 'NOTIFICATION_WEBHOOK_TIMEOUT_MS', 'NOTIFICATION_RETRY_DELAYS_MS', 'NOTIFICATION_ALLOW_PRIVATE_URLS', 'NOTIFICATION_STREAM_HEARTBEAT_MS', 'NOTIFICATION_STREAM_POLL_MS', 'NOTIFICATION_HISTORY_MAX_PER_TENANT', 'NOTIFICATION_HISTORY_MAX_AGE_SECONDS', 'NOTIFICATION_DELIVERY_RETENTION_SECONDS', 'NOTIFICATION_PRUNE_INTERVAL_MS']],
  ['API limits and operations', ['API_QUERY_MAX_TIME_MS', 'METADATA_MAX_BYTES', 'RATE_LIMIT_PER_MINUTE', 'REQUEST_BODY_LIMIT_KB', 'CORS_ORIGINS', 'METRICS_TOKEN', 'AUDIT_RETENTION_DAYS', 'IDEMPOTENCY_KEY_RETENTION_HOURS', 'SCHEDULE_EVENT_RETENTION_DAYS', 'CALLBACK_RECEIPT_RETENTION_DAYS', 'ADMIN_SESSION_TTL_SECONDS', 'LOG_LEVEL']],
];

function parseArgs(argv) {
  const args = { check: false, schema: process.env.CONFIG_SCHEMA || DEFAULT_SCHEMA, out: DEFAULT_OUT };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') args.check = true;
    else if (a === '--schema' || a === '--out') {
      if (!argv[i + 1]) usage(`${a} needs a file`);
      args[a.slice(2)] = argv[++i];
    } else if (a === '-h' || a === '--help') usage(null);
    else usage(`unknown argument ${a}`);
  }
  args.schema = path.resolve(args.schema);
  args.out = path.resolve(args.out);
  return args;
}

function usage(problem) {
  const text = 'Usage: node scripts/generate-config-docs.js [--check] [--schema <environment.schema.ts>] [--out <page.md>]\n';
  if (problem) {
    process.stderr.write(`generate-config-docs: ${problem}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

// Compiles required .ts files in memory; packages resolve from this repository even for a schema copy
// kept elsewhere.
function registerTypeScript() {
  require('./lib/register-ts').registerTypeScript();
  process.env.NODE_PATH = [path.join(ROOT, 'node_modules'), process.env.NODE_PATH].filter(Boolean).join(path.delimiter);
  Module._initPaths();
}

// The comment block right above each property of the schema class (before its decorators).
function readDescriptions(file) {
  const ts = require('typescript');
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = new Map();
  const visit = (node) => {
    if (ts.isClassDeclaration(node) && node.name && node.name.text === SCHEMA_CLASS) {
      for (const member of node.members) {
        if (!ts.isPropertyDeclaration(member) || !member.name || !ts.isIdentifier(member.name)) continue;
        const ranges = ts.getLeadingCommentRanges(text, member.getFullStart()) || [];
        const lines = [];
        for (const r of ranges) {
          const raw = text.slice(r.pos, r.end);
          if (r.kind === ts.SyntaxKind.SingleLineCommentTrivia) lines.push(raw.replace(/^\/\/\s?/, ''));
          else lines.push(...raw.replace(/^\/\*+/, '').replace(/\*+\/$/, '').split('\n').map((l) => l.replace(/^\s*\*\s?/, '')));
        }
        const description = lines.map((l) => l.trim()).filter(Boolean).join(' ');
        found.set(member.name.text, description || null);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function loadSchema(file) {
  if (!existsSync(file)) throw new Error(`schema file ${file} does not exist`);
  registerTypeScript();
  const schema = require(file)[SCHEMA_CLASS];
  if (typeof schema !== 'function') throw new Error(`${file} exports no class ${SCHEMA_CLASS}`);
  const { getMetadataStorage } = require('class-validator');
  const { defaultMetadataStorage } = require('class-transformer/cjs/storage');
  const metadatas = getMetadataStorage().getTargetValidationMetadatas(schema, '', true, false);
  const defaults = new schema();
  // Declaration order: decorators are applied property by property, top to bottom.
  const names = [];
  for (const m of metadatas) if (!names.includes(m.propertyName)) names.push(m.propertyName);
  for (const name of Object.keys(defaults)) if (!names.includes(name)) names.push(name);
  return names.map((name) => ({
    name,
    defaultValue: defaults[name],
    metas: metadatas.filter((m) => m.propertyName === name),
    transforms: defaultMetadataStorage.findTransformMetadatas(schema, name, 1).map((t) => t.transformFn && t.transformFn.name),
  }));
}

const code = (value) => `\`${String(value).replace(/\|/g, '\\|')}\``;
const text = (value) => String(value).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\*/g, '\\*');

// A validator's custom message, without the variable's name in front ("X must be a ..." -> "a ...").
function ownWords(meta, name) {
  if (typeof meta.message !== 'string') return null;
  return meta.message.replace(new RegExp(`^${name} must be `), '').replace(new RegExp(`^${name} `), '');
}

// The condition of a @ValidateIf, from the loaded function: `(env)=>env.A === 'x'` -> `A === 'x'`.
function condition(fn) {
  const source = String(fn).replace(/\s+/g, ' ').trim();
  const match = /^\(?\s*(\w+)\s*\)?\s*=>\s*(.*)$/.exec(source);
  if (!match) return source;
  return match[2].replace(/^\{?\s*return\s+/, '').replace(/;?\s*\}?$/, '').replace(new RegExp(`\\b${match[1]}\\.`, 'g'), '');
}

function allowedValues(v) {
  const of = (n) => v.metas.find((m) => m.name === n);
  const parts = [];
  const isIn = of('isIn');
  if (isIn) parts.push(`one of ${isIn.constraints[0].map(code).join(', ')}`);
  if (of('isInt')) {
    const min = of('min');
    const max = of('max');
    if (min && max) parts.push(`integer ${code(min.constraints[0])}–${code(max.constraints[0])}`);
    else if (min) parts.push(`integer ≥ ${code(min.constraints[0])}`);
    else parts.push('integer');
  }
  if (of('isBoolean')) parts.push(v.transforms.includes('toBool') ? '`true`/`1` or `false`/`0`' : '`true` or `false`');
  if (of('isUrl')) parts.push(`${(of('isUrl').constraints[0].protocols || ['http', 'https']).map(code).join('/')} URL`);
  if (of('isIanaTimezone')) parts.push('IANA time zone name');
  if (of('isString') && !isIn && !of('matches')) parts.push('string');
  const minLength = of('minLength');
  if (minLength) parts.push(`at least ${minLength.constraints[0]} character${minLength.constraints[0] === 1 ? '' : 's'}`);
  const matches = of('matches');
  if (matches) parts.push(ownWords(matches, v.name) !== null ? text(ownWords(matches, v.name)) : `matches ${code(matches.constraints[0])}`);
  const known = new Set(['isIn', 'isInt', 'min', 'max', 'isBoolean', 'isUrl', 'isIanaTimezone', 'isString', 'minLength', 'matches', 'isOptional']);
  for (const m of v.metas) if (m.name && !known.has(m.name)) parts.push(`passes ${code(m.name)}`);
  const validateIf = v.metas.find((m) => m.type === 'conditionalValidation' && m.name !== 'isOptional');
  if (validateIf) parts.push(`required when ${code(condition(validateIf.constraints[0]))}`);
  return parts.join('; ') || '—';
}

function defaultOf(v) {
  if (v.defaultValue !== undefined) return v.defaultValue === '' ? '`""` (empty)' : code(v.defaultValue);
  const optional = v.metas.some((m) => m.type === 'conditionalValidation');
  return optional ? 'unset' : '**required**';
}

function render(variables, descriptions) {
  const byName = new Map(variables.map((v) => [v.name, v]));
  const grouped = new Set();
  const sections = [];
  for (const [title, names] of GROUPS) {
    const members = names.filter((n) => byName.has(n));
    members.forEach((n) => grouped.add(n));
    if (members.length > 0) sections.push([title, members]);
  }
  const rest = variables.map((v) => v.name).filter((n) => !grouped.has(n));
  if (rest.length > 0) sections.push(['Other (not yet grouped in scripts/generate-config-docs.js)', rest]);

  const lines = [
    '# Configuration',
    '',
    '<!-- Generated by scripts/generate-config-docs.js from src/config/environment.schema.ts. Do not edit by hand. -->',
    '',
    'This page is generated from the environment schema, `src/config/environment.schema.ts`. Do not edit it:',
    'change the schema, then run `npm run docs:config` (`node scripts/generate-config-docs.js`).',
    '`npm run docs:config:check` exits 1 when the page is out of date.',
    '',
    'The service reads these variables from the environment, then from `.env` in the working directory (the',
    'environment wins). `.env.example` lists them all. Invalid values stop the service before it starts: it',
    'lists every problem and exits with code 78.',
    '',
    '- **Default**: the schema\'s default. `unset`: no value; **required**: no default, always checked.',
    '- **Allowed**: from the schema\'s validators.',
    '- **Description**: the schema\'s comment above the variable; — where it has none.',
  ];
  for (const [title, names] of sections) {
    lines.push('', `## ${title}`, '', '| Variable | Default | Allowed | Description |', '| --- | --- | --- | --- |');
    for (const name of names) {
      const v = byName.get(name);
      const description = descriptions.get(name);
      lines.push(`| ${code(name)} | ${defaultOf(v)} | ${allowedValues(v)} | ${description ? text(description) : '—'} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const variables = loadSchema(args.schema);
  const descriptions = readDescriptions(args.schema);
  const inSource = [...descriptions.keys()];
  const missing = variables.map((v) => v.name).filter((n) => !descriptions.has(n));
  const extra = inSource.filter((n) => !variables.some((v) => v.name === n));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(`the loaded class and the parsed file disagree: loaded only ${missing.join(', ') || '-'}; parsed only ${extra.join(', ') || '-'}`);
  }
  const page = render(variables, descriptions);
  const relOut = path.relative(ROOT, args.out);
  if (args.check) {
    const current = existsSync(args.out) ? readFileSync(args.out, 'utf8') : null;
    if (current !== page) {
      process.stderr.write(`${relOut} is out of date: run npm run docs:config\n`);
      return 1;
    }
    process.stdout.write(`${relOut} is up to date\n`);
    return 0;
  }
  writeFileSync(args.out, page);
  const undescribed = variables.filter((v) => !descriptions.get(v.name)).map((v) => v.name);
  process.stdout.write(`${relOut}: ${variables.length} variables written\n`);
  if (undescribed.length > 0) {
    process.stdout.write(`${undescribed.length} have no description in the schema (shown as —): ${undescribed.join(', ')}\n`);
  }
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  process.stderr.write(`generate-config-docs: ${error && error.stack ? error.stack : error}\n`);
  process.exitCode = 2;
}
