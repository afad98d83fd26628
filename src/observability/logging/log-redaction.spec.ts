import { maskSensitiveText, maskSensitiveValues } from './log-redaction';

describe('log masking', () => {
  it('masks E.164 numbers, URL-encoded ones and long bare digit runs, keeping country code and last four', () => {
    expect(maskSensitiveText('dialing +14155552671 now')).toBe('dialing +1******2671 now');
    expect(maskSensitiveText('/schedule?phone=%2B14155552671&limit=5')).toBe('/schedule?phone=+1******2671&limit=5');
    expect(maskSensitiveText('to 14155552671.')).toBe('to 14*****2671.');
  });

  it('leaves ids, short numbers and hex sids alone', () => {
    const text = 'schedule 6b02475f88ffaaf090453f02 call CA1234567890abcdef1234567890abcdef took 1500 ms';
    expect(maskSensitiveText(text)).toBe(text);
  });

  it('redacts bearer tokens and bare JWTs', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';
    expect(maskSensitiveText(`Authorization: Bearer ${jwt}`)).toBe('Authorization: Bearer [redacted]');
    expect(maskSensitiveText(`token=${jwt}`)).toBe('token=[redacted-jwt]');
  });

  it('masks strings anywhere in plain objects and arrays, and leaves class instances to their serializers', () => {
    class Req {
      url = '+14155552671';
    }
    const req = new Req();
    const out = maskSensitiveValues({ a: { b: ['+14155552671'] }, n: 14155552671, req, err: new Error('no answer from +14155552671') }) as Record<string, unknown>;
    expect(out.a).toEqual({ b: ['+1******2671'] });
    expect(out.n).toBe(14155552671);
    expect(out.req).toBe(req);
    expect(out.err).toMatchObject({ type: 'Error', message: 'no answer from +1******2671' });
  });
});
