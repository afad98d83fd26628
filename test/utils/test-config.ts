import { randomBytes } from 'node:crypto';
import { AppConfigValues } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/load-config';
import { withDatabaseName } from '../../src/database/embedded/embedded-database.launcher';

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export function testDatabaseUri(name?: string): string {
  const base = process.env.TEST_MONGODB_URI;
  if (!base) throw new Error('TEST_MONGODB_URI is not set: run through jest (globalSetup starts the database)');
  return withDatabaseName(base, name ?? `t_${randomBytes(6).toString('hex')}`);
}

// Builds a config the same way production does (through loadConfig), from test-chosen variables.
export function testConfig(env: Record<string, string | undefined> = {}): AppConfigValues {
  return loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'error',
    SCHEDULER_POLL_INTERVAL_MS: '200',
    SCHEDULER_JOB_POLL_INTERVAL_MS: '500',
    SIMULATOR_STEP_MS: '20',
    // Pacing is off unless a test is about pacing: most tests dial many calls at once.
    CALLS_PER_SECOND: '0',
    // Tests run at any hour: calling hours are open all day unless a test is about calling hours.
    CALLING_HOURS_DEFAULT: '00:00-24:00',
    // Tests fire many requests per token; the rate limit is off unless a test is about it.
    RATE_LIMIT_PER_MINUTE: '0',
    MONGODB_URI: testDatabaseUri(),
    ...env,
  });
}
