import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import type Response from 'twilio/lib/http/response';
import { AppConfig } from '../../src/config/app-config';
import { TwilioClientFactory, TwilioRequestClient } from '../../src/calls/providers/twilio-client.factory';

// The SDK builds https://api.twilio.com/... URLs; this client sends them to the local fake instead.
export class LocalRequestClient extends twilio.RequestClient {
  constructor(private readonly target: string) {
    super({ timeout: 5000 });
  }

  request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<Response<TData>> {
    const url = new URL(opts.uri);
    return super.request<TData>({ ...opts, uri: `${this.target}${url.pathname}${url.search}` });
  }
}

export class LocalTwilioClientFactory extends TwilioClientFactory {
  constructor(
    config: AppConfig,
    private readonly target: string,
  ) {
    super(config);
  }

  protected httpClient(): TwilioRequestClient {
    return new LocalRequestClient(this.target);
  }
}
