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
    // The simulator signs with the Twilio token when there is one, so one secret verifies both.
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
});
