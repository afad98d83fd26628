import { ConfigValidationError, loadConfig } from './load-config';

const SECRET = 'x'.repeat(32);

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ JWT_SECRET: SECRET });
    expect(config.port).toBe(3000);
    expect(config.callProvider).toBe('simulated');
    expect(config.scheduler).toMatchObject({ timezone: 'UTC', maxInstances: 3, misfireGraceSeconds: 300 });
    expect(config.publicBaseUrl).toBe('http://localhost:3000');
    expect(config.mongodbUri).toBeUndefined();
  });

  it('sets the dispatches in flight from the paced rate unless given', () => {
    const concurrency = (env: Record<string, string>) => loadConfig({ JWT_SECRET: SECRET, ...env }).scheduler.dispatchConcurrency;
    // About eight seconds of the rate, between 64 and 256; 256 without pacing.
    expect(concurrency({})).toBe(64);
    expect(concurrency({ CALLS_PER_SECOND: '20' })).toBe(160);
    expect(concurrency({ CALLS_PER_SECOND: '50' })).toBe(256);
    expect(concurrency({ CALLS_PER_SECOND: '0' })).toBe(256);
    // The wider spacing of the two applies.
    expect(concurrency({ CALLS_PER_SECOND: '50', CALLS_MIN_GAP_MS: '100' })).toBe(80);
    // No more than the call seats, if they allow more than 64.
    expect(concurrency({ CALLS_PER_SECOND: '0', MAX_CONCURRENT_CALLS: '5' })).toBe(64);
    expect(concurrency({ CALLS_PER_SECOND: '0', MAX_CONCURRENT_CALLS: '100' })).toBe(100);
    expect(concurrency({ CALLS_PER_SECOND: '50', MAX_CONCURRENT_CALLS: '1000' })).toBe(256);
    expect(concurrency({ CALLS_PER_SECOND: '50', SCHEDULER_DISPATCH_CONCURRENCY: '32' })).toBe(32);
  });

  it('names every variable at fault in one message', () => {
    let error: unknown;
    try {
      loadConfig({ JWT_SECRET: 'short', PORT: 'abc', CALL_PROVIDER: 'carrier-pigeon', SCHEDULER_TIMEZONE: 'Mars/Olympus' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const message = (error as Error).message;
    for (const variable of ['JWT_SECRET', 'PORT', 'CALL_PROVIDER', 'SCHEDULER_TIMEZONE']) expect(message).toContain(`- ${variable}:`);
    expect((error as ConfigValidationError).problems.map((p) => p.variable).sort()).toEqual(['CALL_PROVIDER', 'JWT_SECRET', 'PORT', 'SCHEDULER_TIMEZONE']);
  });

  it('requires JWT_SECRET', () => {
    expect(() => loadConfig({})).toThrow(/JWT_SECRET/);
  });

  it('requires the Twilio variables only when CALL_PROVIDER=twilio', () => {
    expect(() => loadConfig({ JWT_SECRET: SECRET, CALL_PROVIDER: 'twilio' })).toThrow(/TWILIO_ACCOUNT_SID[\s\S]*TWILIO_AUTH_TOKEN[\s\S]*TWILIO_FROM_NUMBER/);
    const ok = loadConfig({
      JWT_SECRET: SECRET,
      CALL_PROVIDER: 'twilio',
      TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'b'.repeat(32),
      TWILIO_FROM_NUMBER: '+15005550006',
    });
    expect(ok.twilio.fromNumber).toBe('+15005550006');
    // The second webhook key falls back to the Twilio token when there is one.
    expect(ok.simulator.signingToken).toBe('b'.repeat(32));
  });

  it('takes an optional Twilio API origin (benchmarks and tests point the SDK at a local fake)', () => {
    expect(loadConfig({ JWT_SECRET: SECRET }).twilio.apiBaseUrl).toBeUndefined();
    expect(loadConfig({ JWT_SECRET: SECRET, TWILIO_API_BASE_URL: 'http://127.0.0.1:4010/' }).twilio.apiBaseUrl).toBe('http://127.0.0.1:4010');
    expect(() => loadConfig({ JWT_SECRET: SECRET, TWILIO_API_BASE_URL: 'not a url' })).toThrow(/TWILIO_API_BASE_URL/);
  });

  it('requires a backend for agent_backend, and parses the dialing lists', () => {
    expect(() => loadConfig({ JWT_SECRET: SECRET, CALL_PROVIDER: 'agent_backend' })).toThrow(/DEFAULT_BACKEND_BASE_URL/);
    const config = loadConfig({
      JWT_SECRET: SECRET,
      CALL_PROVIDER: 'agent_backend',
      DEFAULT_BACKEND_BASE_URL: 'https://agents.example.com/',
      BACKEND_BASE_URL_ALLOWLIST: 'https://b.example.com, https://c.example.com/',
      SAFE_MODE_ALLOWED_NUMBERS: ' +14155550100 ,+14155550101',
    });
    expect(config.agentBackend.allowedBaseUrls).toEqual(['https://agents.example.com', 'https://b.example.com', 'https://c.example.com']);
    expect(config.dialing).toMatchObject({ callsPerSecond: 1, maxConcurrentCalls: 0, safeModeAllowedNumbers: ['+14155550100', '+14155550101'] });
    expect(() => loadConfig({ JWT_SECRET: SECRET, SAFE_MODE_ALLOWED_NUMBERS: '4155550100' })).toThrow(/SAFE_MODE_ALLOWED_NUMBERS/);
  });

  it('takes the seed 000 tasks token only with its tenant', () => {
    expect(loadConfig({ JWT_SECRET: SECRET }).tasksApi).toEqual({ token: undefined, tenantId: undefined });
    expect(loadConfig({ JWT_SECRET: SECRET, TASKS_API_TOKEN: 't'.repeat(16), TASKS_API_TENANT_ID: 'calleroo' }).tasksApi).toEqual({ token: 't'.repeat(16), tenantId: 'calleroo' });
    expect(() => loadConfig({ JWT_SECRET: SECRET, TASKS_API_TOKEN: 't'.repeat(16) })).toThrow(/TASKS_API_TENANT_ID/);
    expect(() => loadConfig({ JWT_SECRET: SECRET, TASKS_API_TOKEN: 'short', TASKS_API_TENANT_ID: 'calleroo' })).toThrow(/TASKS_API_TOKEN/);
  });

  it('rejects a MONGODB_URI that is not a mongodb URL', () => {
    expect(() => loadConfig({ JWT_SECRET: SECRET, MONGODB_URI: 'postgres://x' })).toThrow(/MONGODB_URI/);
  });
  describe("seed 004's variable names", () => {
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig({ JWT_SECRET: SECRET, ...env });
      } catch (e) {
        return (e as ConfigValidationError).problems;
      }
      throw new Error('expected a ConfigValidationError');
    };

    it('reads MONGODB_URL plus DATABASE_NAME as MONGODB_URI with that database, options kept', () => {
      expect(loadConfig({ JWT_SECRET: SECRET, MONGODB_URL: 'mongodb://localhost:27017', DATABASE_NAME: 'polaris_db' }).mongodbUri).toBe('mongodb://localhost:27017/polaris_db');
      expect(loadConfig({ JWT_SECRET: SECRET, MONGODB_URL: 'mongodb://u:p@a:1,b:2/?replicaSet=rs0', DATABASE_NAME: 'polaris_db' }).mongodbUri).toBe('mongodb://u:p@a:1,b:2/polaris_db?replicaSet=rs0');
      expect(loadConfig({ JWT_SECRET: SECRET, MONGODB_URL: 'mongodb+srv://cluster.example.com/app' }).mongodbUri).toBe('mongodb+srv://cluster.example.com/app');
    });

    it('accepts an alias that agrees with MONGODB_URI, and refuses one that does not', () => {
      const same = { MONGODB_URI: 'mongodb://localhost:27017/polaris_db', MONGODB_URL: 'mongodb://localhost:27017', DATABASE_NAME: 'polaris_db' };
      expect(loadConfig({ JWT_SECRET: SECRET, ...same }).mongodbUri).toBe('mongodb://localhost:27017/polaris_db');
      expect(problemsOf({ ...same, DATABASE_NAME: 'other_db' })).toEqual([{ variable: 'MONGODB_URL', issue: expect.stringMatching(/MONGODB_URL .*MONGODB_URI .*set only one/) }]);
      expect(problemsOf({ MONGODB_URL: 'mongodb://localhost:27017/a', DATABASE_NAME: 'b' })).toEqual([{ variable: 'DATABASE_NAME', issue: expect.stringContaining("differs from the database in MONGODB_URL's path") }]);
      expect(problemsOf({ MONGODB_URI: 'mongodb://localhost:27017/x', DATABASE_NAME: 'polaris_db' })).toEqual([{ variable: 'DATABASE_NAME', issue: expect.stringContaining('only with MONGODB_URL') }]);
      expect(problemsOf({ MONGODB_URL: 'postgres://x', DATABASE_NAME: 'a.b' }).map((p) => p.variable).sort()).toEqual(['DATABASE_NAME', 'MONGODB_URL']);
    });

    it('reads TWILIO_WEBHOOK_URL, the full status callback URL, as the base the callback routes sit under', () => {
      expect(loadConfig({ JWT_SECRET: SECRET, TWILIO_WEBHOOK_URL: 'https://your-domain/webhook/call-status' }).publicBaseUrl).toBe('https://your-domain');
      expect(loadConfig({ JWT_SECRET: SECRET, TWILIO_WEBHOOK_URL: 'https://example.com/calls/webhook/call-status/' }).publicBaseUrl).toBe('https://example.com/calls');
      expect(loadConfig({ JWT_SECRET: SECRET, PUBLIC_BASE_URL: 'https://your-domain/', TWILIO_WEBHOOK_URL: 'https://your-domain/webhook/call-status' }).publicBaseUrl).toBe('https://your-domain');
      expect(problemsOf({ PUBLIC_BASE_URL: 'https://a.example.com', TWILIO_WEBHOOK_URL: 'https://b.example.com/webhook/call-status' })).toEqual([
        { variable: 'TWILIO_WEBHOOK_URL', issue: 'TWILIO_WEBHOOK_URL implies PUBLIC_BASE_URL=https://b.example.com, which conflicts with PUBLIC_BASE_URL=https://a.example.com; set only one of them' },
      ]);
      expect(problemsOf({ TWILIO_WEBHOOK_URL: 'https://your-domain/twilio/status' })).toEqual([{ variable: 'TWILIO_WEBHOOK_URL', issue: expect.stringContaining('must end with /webhook/call-status') }]);
      expect(problemsOf({ TWILIO_WEBHOOK_URL: 'not a url' }).map((p) => p.variable)).toEqual(['TWILIO_WEBHOOK_URL']);
    });
  });
});
