import { TestingModuleBuilder } from '@nestjs/testing';
import { TwilioClientFactory } from '../../src/calls/providers/twilio-client.factory';
import { AppConfigValues } from '../../src/config/app-config';
import { LocalTwilioClientFactory } from '../fakes/local-twilio.client';

// One Twilio account a test's fake Twilio server (test/fakes/fake-twilio.server.ts) stands for.
export interface FakeTwilioAccount {
  sid: string;
  token: string;
  // Where Twilio would reach the service: status callback URLs and their signatures are built from it.
  publicBaseUrl?: string;
}

// Twilio's magic test number: a valid caller id for a test account.
export const TWILIO_TEST_FROM = '+15005550006';

// The variables that make the service dial through Twilio with that account, calling from TWILIO_TEST_FROM;
// `extra` adds or overrides any.
export function twilioTestEnv(account: FakeTwilioAccount, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CALL_PROVIDER: 'twilio',
    TWILIO_ACCOUNT_SID: account.sid,
    TWILIO_AUTH_TOKEN: account.token,
    TWILIO_FROM_NUMBER: TWILIO_TEST_FROM,
    ...(account.publicBaseUrl ? { PUBLIC_BASE_URL: account.publicBaseUrl } : {}),
    ...extra,
  };
}

// The app's Twilio SDK client talks to the fake server at `fakeUrl` instead of api.twilio.com.
export function throughFakeTwilio(config: AppConfigValues, fakeUrl: string): (builder: TestingModuleBuilder) => TestingModuleBuilder {
  return (builder) => builder.overrideProvider(TwilioClientFactory).useValue(new LocalTwilioClientFactory(config, fakeUrl));
}
