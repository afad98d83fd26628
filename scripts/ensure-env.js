#!/usr/bin/env node
'use strict';
// Runs before `npm start`: on the first run, creates .env from .env.example with a random JWT_SECRET.
// An existing .env is never touched.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const envFile = path.join(root, '.env');
const exampleFile = path.join(root, '.env.example');

if (fs.existsSync(envFile)) process.exit(0);

if (!fs.existsSync(exampleFile)) {
  process.stderr.write(`ensure-env: ${exampleFile} is missing; cannot create .env\n`);
  process.exit(1);
}

const secret = crypto.randomBytes(32).toString('hex');
const lines = fs.readFileSync(exampleFile, 'utf8').split('\n');
let replaced = false;
const out = lines.map((line) => {
  if (/^JWT_SECRET=/.test(line)) {
    replaced = true;
    return `JWT_SECRET=${secret}`;
  }
  return line;
});
if (!replaced) out.push(`JWT_SECRET=${secret}`);

// 'wx': never overwrite a .env that appeared in the meantime.
try {
  fs.writeFileSync(envFile, out.join('\n'), { flag: 'wx', mode: 0o600 });
} catch (error) {
  if (error.code === 'EEXIST') process.exit(0);
  throw error;
}
process.stdout.write('ensure-env: created .env from .env.example with a random JWT_SECRET\n');
