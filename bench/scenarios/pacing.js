'use strict';
// 5. Pacing precision: 10x CALLS_PER_SECOND calls due at once, dialed through the fake provider; the
// figures are read from the fake's arrival times.
const { runBursts } = require('../lib/burst');
const { busiestOneSecondWindow, round, summarize, tightestSpan } = require('../lib/util');

async function pacing(ctx, plan) {
  const result = {};
  for (const cps of plan.pacingRates) {
    const calls = cps * plan.pacingFactor;
    const onRun = async (svc, fig) => {
      const due = Date.parse(fig.due_at);
      // The run's own dials: lag figures are relative to its due time; a leftover backlog dialed earlier.
      const times = ctx.fake.arrivals.map((a) => a.at).filter((t) => t >= due - 1000).sort((a, b) => a - b);
      const span = times.length > 1 ? times[times.length - 1] - times[0] : 0;
      const meanRate = span > 0 ? ((times.length - 1) * 1000) / span : 0;
      return { busiest_window: busiestOneSecondWindow(times), tightest_span_ms: tightestSpan(times, cps), mean_rate: round(meanRate, 2), mean_rate_percent: round((meanRate / cps) * 100, 1) };
    };
    const bySize = await runBursts(ctx, {
      label: `pacing${cps}`,
      mode: 'twilio',
      sizes: [calls],
      runs: plan.runs,
      capFor: () => plan.pacingCapFor(cps, calls),
      env: { CALLS_PER_SECOND: String(cps), SCHEDULER_CONCURRENCY: String(Math.max(8, cps)) },
      onRun,
    });
    const runs = bySize[calls];
    result[cps] = {
      calls,
      summary: {
        busiest_window: summarize(runs.map((r) => r.busiest_window)),
        tightest_span_ms: summarize(runs.map((r) => r.tightest_span_ms).filter((v) => v !== null)),
        mean_rate: summarize(runs.map((r) => r.mean_rate)),
        mean_rate_percent: summarize(runs.map((r) => r.mean_rate_percent)),
        last_call_lag_ms: summarize(runs.map((r) => r.max)),
        done: summarize(runs.map((r) => r.done)),
      },
      runs,
    };
  }
  return result;
}

module.exports = { pacing };
