import twilio from 'twilio';

export type FormParams = Record<string, string | string[]>;

// Twilio's scheme: HMAC-SHA1 over the full public URL followed by every POST parameter, sorted by name.
export function signTwilioRequest(authToken: string, url: string, params: FormParams): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params as Record<string, string>);
}

export function isValidTwilioSignature(authToken: string, signature: string, url: string, params: FormParams): boolean {
  return twilio.validateRequest(authToken, signature, url, params as Record<string, string>);
}
