import { InvalidProviderOptionsError, resolveProviderOptions } from './provider-options';

const config = {
  callProvider: 'twilio' as const,
  twilio: { fromNumbers: ['+15005550006'] },
  agentBackend: { defaultBaseUrl: undefined, allowedBaseUrls: [] },
} as unknown as Parameters<typeof resolveProviderOptions>[1];

function refusal(raw: Record<string, unknown>): InvalidProviderOptionsError {
  try {
    resolveProviderOptions(raw, config);
  } catch (error) {
    if (error instanceof InvalidProviderOptionsError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('resolveProviderOptions: Twilio pass-through', () => {
  it("maps snake_case calls.create parameters to the SDK's names and leaves the service's own keys out", () => {
    const options = resolveProviderOptions({ timeout: 20, record: true, send_digits: '1w2', recording_status_callback_event: ['completed'], simulate_outcome: 'busy' }, config);
    expect(options.twilio).toEqual({ record: true, sendDigits: '1w2', recordingStatusCallbackEvent: ['completed'] });
    expect(options.timeout).toBe(20);
  });

  it('refuses an unknown key on write, naming it, and ignores it when dialing a stored schedule', () => {
    expect(refusal({ record: true, crm_ref: 'x' })).toMatchObject({ field: 'provider_options.crm_ref', issue: expect.stringContaining('unknown key crm_ref') });
    expect(resolveProviderOptions({ record: true, crm_ref: 'x', status_callback: 'https://a.example' }, config, 'ignore').twilio).toEqual({ record: true });
  });

  it('refuses the parameters the service sets itself', () => {
    for (const key of ['to', 'status_callback', 'status_callback_event', 'status_callback_method']) {
      expect(refusal({ [key]: 'x' })).toMatchObject({ field: `provider_options.${key}`, issue: `${key} is set by the service and cannot be given` });
    }
  });
});

describe('resolveProviderOptions: the simulator', () => {
  it('refuses an outcome it cannot play and a duration a call could not have', () => {
    expect(refusal({ simulate_outcome: 'voicemail' })).toMatchObject({ field: 'provider_options.simulate_outcome', issue: expect.stringContaining('completed, busy, no-answer, failed, unknown') });
    for (const duration of [-1, 2.5, 14_401, '42']) {
      expect(refusal({ simulate_duration: duration })).toMatchObject({ field: 'provider_options.simulate_duration', issue: 'simulate_duration must be an integer from 0 to 14400' });
    }
    expect(resolveProviderOptions({ simulate_outcome: 'no-answer', simulate_duration: 0 }, config).raw).toMatchObject({ simulate_outcome: 'no-answer', simulate_duration: 0 });
  });
});
