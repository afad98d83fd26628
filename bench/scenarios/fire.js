'use strict';
// 1. Fire accuracy: N one-time schedules due at one instant, pacing off, in both provider modes.
const { runBursts } = require('../lib/burst');
const { summarize } = require('../lib/util');

function summarizeRuns(runs) {
  const pick = (k) => summarize(runs.map((r) => r[k]));
  return { p50: pick('p50'), p95: pick('p95'), p99: pick('p99'), max: pick('max'), drain_ms: pick('drain_ms'), per_second: pick('per_second'), done: pick('done') };
}

async function fireAccuracy(ctx, plan) {
  const result = { sizes: plan.fireSizes, simulated_sizes: plan.simulatedSizes, runs: plan.runs, cap_ms: {}, modes: {} };
  for (const n of plan.fireSizes) result.cap_ms[n] = plan.capFor(n);
  for (const mode of ['twilio', 'simulated']) {
    const sizes = mode === 'twilio' ? plan.fireSizes : plan.simulatedSizes;
    const bySize = await runBursts(ctx, { label: 'fire', mode, sizes, runs: plan.runs, capFor: plan.capFor });
    result.modes[mode] = {};
    for (const [n, runs] of Object.entries(bySize)) result.modes[mode][n] = { summary: summarizeRuns(runs), runs };
  }
  return result;
}

module.exports = { fireAccuracy, summarizeRuns };
