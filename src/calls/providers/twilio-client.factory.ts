import { Injectable } from '@nestjs/common';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import type Response from 'twilio/lib/http/response';
import { AppConfig } from '../../config/app-config';

export type TwilioClient = ReturnType<typeof twilio>;
export type TwilioRequestClient = InstanceType<typeof twilio.RequestClient>;

// The SDK builds https://api.twilio.com/... URLs; this sends them, path and query unchanged, to another origin.
export class RebasedRequestClient extends twilio.RequestClient {
  constructor(
    private readonly baseUrl: string,
    timeoutMs: number,
  ) {
    super({ timeout: timeoutMs });
  }

  request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<Response<TData>> {
    const url = new URL(opts.uri);
    return super.request<TData>({ ...opts, uri: `${this.baseUrl}${url.pathname}${url.search}` });
  }
}

// The network boundary to Twilio: tests hand the SDK a RequestClient that reaches a local fake.
@Injectable()
export class TwilioClientFactory {
  constructor(protected readonly config: AppConfig) {}

  create(): TwilioClient {
    const { accountSid, authToken, requestTimeoutMs } = this.config.twilio;
    if (!accountSid || !authToken) throw new Error('TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not configured');
    // autoRetry stays off: a retry is only safe when we know Twilio did not process the request, and
    // the dispatcher decides that (and paces every attempt) itself.
    return twilio(accountSid, authToken, { autoRetry: false, timeout: requestTimeoutMs, httpClient: this.httpClient() });
  }

  // TWILIO_API_BASE_URL points a separately started service at a local fake (benchmarks).
  protected httpClient(): TwilioRequestClient | undefined {
    const { apiBaseUrl, requestTimeoutMs } = this.config.twilio;
    return apiBaseUrl ? new RebasedRequestClient(apiBaseUrl, requestTimeoutMs) : undefined;
  }
}
