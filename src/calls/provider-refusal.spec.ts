import { dialFailureKind } from './provider-refusal';

describe('dialFailureKind', () => {
  it('calls a request the provider did not process a refusal, only when no call was placed', () => {
    for (const code of ['20429', '429', '20503', '503', '500', 'network', 'not_placed']) expect(dialFailureKind(code, false)).toBe('refused');
    expect(dialFailureKind('503', true)).toBe('other');
  });

  it('recognises an invalid number, placed or not', () => {
    for (const code of ['21211', '21214', '21217', '21401', '13223', '13224']) expect(dialFailureKind(code, false)).toBe('invalid_number');
    expect(dialFailureKind('13224', true)).toBe('invalid_number');
  });

  it('leaves every other failure to retry_on', () => {
    for (const code of ['21205', '401', 'twilio_not_configured', 'invalid_provider_options', '31005', null, undefined]) expect(dialFailureKind(code, false)).toBe('other');
  });
});
