import request from 'supertest';
import type { App } from 'supertest/types';
import { signTwilioRequest } from '../../src/calls/webhook-signature';

// Posts a status callback the way Twilio would: form-encoded and signed over PUBLIC_BASE_URL + path.
export async function postTwilioCallback(server: App, publicBaseUrl: string, authToken: string, path: string, params: Record<string, string>) {
  const signature = signTwilioRequest(authToken, `${publicBaseUrl}${path}`, params);
  return request(server).post(path).type('form').set('X-Twilio-Signature', signature).send(params);
}

// The form fields of one status callback, as Twilio sends them for an outbound call.
export function twilioCallbackParams(callSid: string, status: string, sequence: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AccountSid: `AC${'0'.repeat(32)}`,
    CallSid: callSid,
    CallStatus: status,
    SequenceNumber: String(sequence),
    Timestamp: new Date().toUTCString(),
    To: '+14155552671',
    From: '+15005550006',
    Direction: 'outbound-api',
    ApiVersion: '2010-04-01',
    ...extra,
  };
}
