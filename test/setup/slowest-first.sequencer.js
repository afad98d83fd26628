// Runs the longest test files first, so that no long file starts near the end and becomes the run's tail.
// Jest orders by the durations in its cache when it has them; a fresh clone (CI) has none and falls back
// to file size, which started campaign-done-when (then 54-97 s) late. The estimates below are seconds measured
// on a fresh clone's `.ci/run` (2026-12-04, commit b6d808a); they stand in only where the cache has no
// duration of its own, and a file with neither keeps Jest's order after the others. The pacing test
// (test/medium/outbound-pacing.medium-spec.ts, 26 s) is left out on purpose: it measures request spacing
// at the fake provider, and started beside the heaviest files it once saw 6 requests in a second at 5/s.
const Sequencer = require('@jest/test-sequencer').default;
const { relative } = require('node:path');

const MEASURED_SECONDS = {
  'test/e2e/campaign.e2e-spec.ts': 95,
  'test/e2e/tracking-api.e2e-spec.ts': 92,
  'test/e2e/schedule-dispatch.e2e-spec.ts': 73,
  'test/e2e/outbound-twilio.e2e-spec.ts': 58,
  'test/e2e/calling-rules.e2e-spec.ts': 46,
  'test/e2e/compat-renewals.e2e-spec.ts': 43,
  'test/e2e/scheduler-daily-batch.e2e-spec.ts': 42,
  'test/e2e/status-webhook.e2e-spec.ts': 38,
  'test/e2e/race.e2e-spec.ts': 37,
  'test/e2e/agent-backend-outcomes.e2e-spec.ts': 31,
  'test/e2e/campaign-attempts.e2e-spec.ts': 31,
  'test/e2e/notifications-webhooks.e2e-spec.ts': 25,
  'test/e2e/dashboard.e2e-spec.ts': 24,
  'test/e2e/scheduler-config.e2e-spec.ts': 23,
  'test/e2e/query-time-limit.e2e-spec.ts': 20,
};

class SlowestFirstSequencer extends Sequencer {
  async sort(tests) {
    const ordered = await super.sort(tests);
    const estimate = (test) => {
      const cached = this._getCache(test)[test.path];
      if (cached && cached[1] > 0) return cached[1] / 1000;
      return MEASURED_SECONDS[relative(test.context.config.rootDir, test.path)] ?? 0;
    };
    // Array.prototype.sort is stable: unlisted files keep Jest's order.
    return [...ordered].sort((a, b) => estimate(b) - estimate(a));
  }
}

module.exports = SlowestFirstSequencer;
