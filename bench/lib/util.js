'use strict';
// Small helpers shared by the benchmark harness: percentiles, medians with spread, ports, process stats.
const { readFileSync } = require('node:fs');
const { createServer } = require('node:net');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Nearest-rank percentile of an ascending array; Infinity stands for "not done within the cap".
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);

const round = (n, d = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : n);

// One figure over repeated runs: the median, and the spread as min..max.
function summarize(values) {
  const v = values.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: null, min: null, max: null, runs: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median: round(median, 2), min: round(v[0], 2), max: round(v[v.length - 1], 2), runs: v.length };
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

// Resident memory now (VmRSS), or the most it has been since the process started (peak: VmHWM).
function rssMb(pid, { peak = false } = {}) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(peak ? /VmHWM:\s+(\d+) kB/ : /VmRSS:\s+(\d+) kB/);
    return m ? round(Number(m[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

// utime + stime of a process in seconds (Linux /proc).
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

// The most arrivals inside any one-second window (each window starts at an arrival).
function busiestOneSecondWindow(times) {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= 1000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

// The shortest time holding `limit + 1` arrivals: at 1,000 ms or more, no one-second window held more than
// `limit`. Against the nominal span (limit slots of the pacer's width), it tells how much of its margin
// the jitter of the sends used up. null with too few arrivals.
function tightestSpan(times, limit) {
  const sorted = [...times].sort((a, b) => a - b);
  let best = null;
  for (let k = 0; k + limit < sorted.length; k++) best = Math.min(best ?? Infinity, sorted[k + limit] - sorted[k]);
  return best;
}

// Lag figures of N items due at `dueAt`, of which `times` arrived; the missing ones count as Infinity.
function lagFigures(times, dueAt, n) {
  const lags = times.map((t) => t - dueAt).sort((a, b) => a - b);
  const all = [...lags, ...Array(Math.max(0, n - lags.length)).fill(Infinity)];
  const last = lags.length ? lags[lags.length - 1] : NaN;
  const first = lags.length ? lags[0] : NaN;
  return {
    n,
    done: lags.length,
    p50: pct(all, 50),
    p95: pct(all, 95),
    p99: pct(all, 99),
    max: all.length ? all[all.length - 1] : NaN,
    drain_ms: lags.length === n ? last : Infinity,
    // Dispatches per second from the due time to the last arrival (a burst's throughput).
    per_second: lags.length > 1 && last > 0 ? round((lags.length * 1000) / Math.max(last, 1), 1) : lags.length === 1 ? null : 0,
    first_ms: first,
  };
}

function parseArgs(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) out._.push(a);
    else if (a.includes('=')) out[a.slice(2, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = true;
  }
  return out;
}

module.exports = { sleep, pct, round, summarize, freePort, rssMb, cpuSeconds, busiestOneSecondWindow, tightestSpan, lagFigures, parseArgs };
