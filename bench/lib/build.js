'use strict';
// The harness runs the compiled service (production mode). --dist <dir> (or BENCH_DIST) names a build;
// otherwise dist/ is used when it is newer than every file under src/, else src/ is compiled into a
// directory of the harness's own, (so that a half-finished `nest build` elsewhere cannot break a run).
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join, resolve } = require('node:path');

const ROOT = join(__dirname, '..', '..');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function ensureBuild(explicit, log) {
  if (explicit) {
    explicit = resolve(explicit);
    if (!existsSync(join(explicit, 'main.js'))) throw new Error(`${explicit}/main.js does not exist`);
    return explicit;
  }
  const dist = join(ROOT, 'dist');
  const srcNewest = newestMtime(join(ROOT, 'src'));
  if (existsSync(join(dist, 'main.js')) && statSync(join(dist, 'main.js')).mtimeMs >= srcNewest) return dist;
  // Under node_modules/ so that the build resolves the project's packages (and git ignores it).
  const out = join(ROOT, 'node_modules', '.cache', 'call-scheduler-bench', 'dist');
  if (existsSync(join(out, 'main.js')) && newestMtime(out) >= srcNewest) return out;
  log(`compiling src/ into ${out}`);
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json'), '--outDir', out], { stdio: 'pipe' });
  } catch (error) {
    // tsc still emits when some file has type errors; only a missing entry point is fatal.
    if (!existsSync(join(out, 'main.js'))) throw new Error(`build failed: ${error.stdout ?? error.message}`);
    log(`tsc reported type errors (emitted anyway): ${String(error.stdout).split('\n')[0]}`);
  }
  return out;
}

module.exports = { ensureBuild, ROOT };
