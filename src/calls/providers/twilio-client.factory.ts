import { Injectable } from '@nestjs/common';
import twilio from 'twilio';
import { AppConfig } from '../../config/app-config';

export type TwilioClient = ReturnType<typeof twilio>;
export type TwilioRequestClient = InstanceType<typeof twilio.RequestClient>;

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

  protected httpClient(): TwilioRequestClient | undefined {
    return undefined;
  }
}
