import request from 'supertest';
import type { App } from 'supertest/types';
import { signTwilioRequest } from '../../src/calls/webhook-signature';

// Posts a status callback the way Twilio would: form-encoded and signed over PUBLIC_BASE_URL + path.
export async function postTwilioCallback(server: App, publicBaseUrl: string, authToken: string, path: string, params: Record<string, string>) {
  const signature = signTwilioRequest(authToken, `${publicBaseUrl}${path}`, params);
  return request(server).post(path).type('form').set('X-Twilio-Signature', signature).send(params);
}
