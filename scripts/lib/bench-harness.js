'use strict';
// Shared by the measure-* scripts: argument parsing, percentiles, and booting dist/main.js on a free port.
const { spawn } = require('node:child_process');
const { createServer } = require('node:net');
const path = require('node:path');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

// Starts the built service with `env` on top of this process's environment and waits for /health/ready.
async function startService(env) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'main.js')], {
    env: { ...process.env, NODE_ENV: 'production', PORT: String(port), ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const stop = () => child.kill('SIGTERM');
  process.on('exit', stop);
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).ok) break;
    } catch {}
    if (i > 300) throw new Error('service did not become ready');
    await sleep(100);
  }
  return { port, stop };
}

module.exports = { arg, sleep, pct, freePort, startService };
