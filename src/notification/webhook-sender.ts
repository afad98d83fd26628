import { Injectable } from '@nestjs/common';
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { AppConfig } from '../config/app-config';
import { resolveAllowed } from './address-guard';

export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface WebhookResponse {
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  response_excerpt: string | null;
}

const EXCERPT_BYTES = 512;

// The only code that opens a connection to a subscriber. The address is resolved and vetted here, at
// send time, and the socket connects to exactly that vetted address (pinned lookup): a name that
// re-resolves to a private address between registration and delivery (DNS rebinding) is refused.
@Injectable()
export class WebhookSender {
  constructor(private readonly config: AppConfig) {}

  async post(request: WebhookRequest): Promise<WebhookResponse> {
    const started = Date.now();
    const done = (status_code: number | null, error: string | null, response_excerpt: string | null = null): WebhookResponse => ({
      status_code,
      error,
      duration_ms: Date.now() - started,
      response_excerpt,
    });
    let url: URL;
    let addresses: LookupAddress[];
    try {
      url = new URL(request.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return done(null, `unsupported scheme ${url.protocol}`);
      addresses = await resolveAllowed(url.hostname, this.config.notifications.allowPrivateUrls);
    } catch (error) {
      return done(null, error instanceof Error ? error.message : String(error));
    }
    const timeoutMs = this.config.notifications.webhookTimeoutMs;
    return new Promise<WebhookResponse>((resolve) => {
      let settled = false;
      const finish = (result: WebhookResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const transport = url.protocol === 'https:' ? https : http;
      const req = transport.request(
        url,
        {
          method: 'POST',
          // A fresh connection per attempt: no pooled socket outlives the address check that opened it.
          agent: false,
          headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body).toString() },
          lookup: (_host, options, callback) => {
            if ((options as { all?: boolean }).all) (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
            else callback(null, addresses[0].address, addresses[0].family);
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size < EXCERPT_BYTES) chunks.push(chunk);
            size += chunk.length;
          });
          res.on('end', () => finish(done(res.statusCode ?? null, null, Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8') || null)));
          res.on('error', (error) => finish(done(res.statusCode ?? null, error.message)));
        },
      );
      // Redirects are not followed (http.request never does): a 3xx is a failed attempt, not a hop to
      // an address nobody checked.
      const timer = setTimeout(() => {
        finish(done(null, `timed out after ${timeoutMs} ms`));
        req.destroy();
      }, timeoutMs);
      req.on('error', (error) => finish(done(null, error.message)));
      req.end(request.body);
    });
  }
}
