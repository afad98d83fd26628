'use strict';
// Boots the compiled service (NODE_ENV=production) on a free port and waits for /health/ready.
const { spawn } = require('node:child_process');
const { openSync, closeSync } = require('node:fs');
const { join } = require('node:path');
const jwt = require('jsonwebtoken');
const { freePort, sleep } = require('./util');

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

class PortTaken extends Error {}

// requireReady false: after the timeout, a service that answers /health (alive, but its database or job
// scheduler not ready) is used anyway and marked ready: false.
// A port is free when asked for, but the service binds it seconds later: meanwhile another process (a test's
// HTTP server, in CI where the bench runs beside jest) may take it. The service then exits with EADDRINUSE,
// and until it does, the other process answers on its port. So an answer counts only when it accepts this
// service's own token, and a service that lost its port is started again on another.
async function startService(buildDir, env, opts = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(buildDir, env, opts);
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt >= 3) throw error;
    }
  }
}

// Whether the process answering on `port` is the one started with JWT_SECRET `secret` (no secret: not asked):
// it takes a token signed with it, and answers a schedule that does not exist as the service does (a read
// by _id, cheap at any size).
async function answersAsItself(port, secret) {
  if (!secret) return true;
  const token = jwt.sign({ sub: 'bench' }, secret, { expiresIn: '5m' });
  const res = await fetch(`http://127.0.0.1:${port}/schedule/${'0'.repeat(24)}`, { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
  if (res?.status !== 404) return false;
  return (await res.json().catch(() => null))?.error_code === 'SCHEDULE_009';
}

async function startOnce(buildDir, env, { logFile, nodeArgs = [], readyTimeoutMs = 120_000, requireReady = true } = {}) {
  const port = await freePort();
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(process.execPath, [...nodeArgs, join(buildDir, 'main.js')], {
    // The per-token rate limit (600/min by default) would cap one bench token at 10 req/s and turn the API
    // runs into a measure of 429s: the bench measures the service behind it. Reads are stopped at the
    // read window (5 s): a longer one counts as not done anyway, and left running it piles up in FerretDB.
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, RATE_LIMIT_PER_MINUTE: '0', API_QUERY_MAX_TIME_MS: '5000', ...env },
    stdio: ['ignore', out, out],
  });
  if (typeof out === 'number') closeSync(out);
  live.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => live.delete(child));
  const started = Date.now();
  let ready = true;
  for (;;) {
    if (child.exitCode !== null) {
      const taken = await fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
      throw new (taken ? PortTaken : Error)(`service exited with code ${child.exitCode} before it was ready${taken ? `: port ${port} is another process's` : ''}${logFile ? ` (log: ${logFile})` : ''}`);
    }
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).ok && (await answersAsItself(port, env.JWT_SECRET))) break;
    } catch {}
    if (Date.now() - started > readyTimeoutMs) {
      if (!requireReady && (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false))) {
        ready = false;
        break;
      }
      child.kill('SIGKILL');
      throw new Error(`service did not become ready within ${readyTimeoutMs / 1000} s`);
    }
    await sleep(100);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    ready,
    startMs: Date.now() - started,
    // SIGTERM, and SIGKILL if the drain takes longer than `graceMs` (a benchmark does not wait out backlogs).
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

module.exports = { startService };
