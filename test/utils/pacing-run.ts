import { FakeTwilioServer } from '../fakes/fake-twilio.server';
import { throughFakeTwilio, twilioTestEnv } from './fake-twilio-app';
import { createMediumApp, createSchedule, MediumApp, principalFor } from './medium-app';
import { testConfig } from './test-config';
import { TestClock } from './test-clock';
import { waitFor } from './wait';

export interface PacingFigures {
  callsPerSecond: number;
  calls: number;
  dialed: number;
  instances: number;
  busiestWindow: number;
  meanRate: number;
  lastCallLagMs: number;
  // Provider arrival times, ascending.
  times: number[];
}

// The most provider requests inside any one-second window (sliding: each window starts at a request).
export function busiestOneSecondWindow(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= 1000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

// `calls` one-time schedules due at one instant, dialed through the fake Twilio by `instances` service
// instances on one database; the figures are read from the fake's own arrival times. The instances are
// applications without HTTP servers, each running its scheduler (sweeper and job queue) as deployed:
// pacing is a rate in wall-clock time, so this run takes the seconds the rate implies.
export async function runPacing(callsPerSecond: number, calls: number, instances: number, env: Record<string, string> = {}): Promise<PacingFigures> {
  const sid = `AC${'fedcba9876543210'.repeat(2)}`;
  const token = 'pacing-twilio-token-0123456789';
  const fake = new FakeTwilioServer(sid, token);
  await fake.start();
  const config = testConfig({
    ...twilioTestEnv({ sid, token }),
    CALLS_PER_SECOND: String(callsPerSecond),
    SCHEDULER_ENABLED: 'true',
    SCHEDULER_POLL_INTERVAL_MS: '200',
    // Production's Agenda poll: each poll is one findAndModify per job name, which the embedded FerretDB
    // serializes with every dial's writes.
    SCHEDULER_JOB_POLL_INTERVAL_MS: '5000',
    SCHEDULER_CONCURRENCY: String(Math.max(8, callsPerSecond)),
    ...env,
  });
  // One moved clock for every instance: creating the schedules may take longer than any fixed lead.
  const clock = new TestClock();
  const apps: MediumApp[] = [];
  try {
    for (let i = 0; i < instances; i++) {
      apps.push(
        await createMediumApp({
          config,
          clock,
          override: throughFakeTwilio(config, fake.url),
        }),
      );
    }
    const auth = principalFor(apps[0], 'pacing');
    const due = new Date(Date.now() + 3_600_000);
    for (let start = 0; start < calls; start += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, calls - start) }, (_, i) =>
          createSchedule(apps[(start + i) % instances], auth, { phone: `+1415556${String(start + i).padStart(4, '0')}`, scheduled_time: due.toISOString() }),
        ),
      );
    }
    clock.set(new Date(due.getTime() - 500));
    const dueReal = Date.now() + 500;
    // A run that cannot keep up still reports what reached the provider by the deadline.
    await waitFor(async () => fake.requests.length >= calls, 120_000 + calls * Math.max(1000 / Math.max(callsPerSecond, 1), Number(env.CALLS_MIN_GAP_MS ?? 0)) * 2, 50).catch(() => undefined);
    const times = fake.requests.map((r) => r.at).sort((a, b) => a - b);
    const first = Math.min(...times);
    const last = Math.max(...times);
    return {
      callsPerSecond,
      calls,
      dialed: times.length,
      instances,
      busiestWindow: busiestOneSecondWindow(times),
      meanRate: times.length > 1 ? ((times.length - 1) * 1000) / (last - first) : 0,
      lastCallLagMs: last - dueReal,
      times,
    };
  } finally {
    await Promise.all(apps.map((a) => a.close()));
    await fake.stop();
  }
}
