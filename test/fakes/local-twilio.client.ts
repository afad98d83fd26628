import { AppConfig } from '../../src/config/app-config';
import { RebasedRequestClient, TwilioClientFactory, TwilioRequestClient } from '../../src/calls/providers/twilio-client.factory';

// The SDK builds https://api.twilio.com/... URLs; this factory sends them to the local fake instead.
export class LocalTwilioClientFactory extends TwilioClientFactory {
  constructor(
    config: AppConfig,
    private readonly target: string,
  ) {
    super(config);
  }

  protected httpClient(): TwilioRequestClient {
    return new RebasedRequestClient(this.target, 5000);
  }
}
