import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../../src/notification/outbound-signature';

export interface ReceivedWebhook {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  envelope: { id: string; type: string; created_at: string; data: Record<string, unknown> };
  signature: ReturnType<typeof verifyWebhookSignature>;
  // What the receiver answered; 'hang' until the connection is dropped.
  response: number | 'hang';
}

// What the receiver does with the n-th request (0-based): answer with a status, or never answer.
export type ReceiverBehaviour = (n: number, envelope: ReceivedWebhook['envelope']) => number | 'hang';

// A subscriber's endpoint for tests: verifies each request's signature the way the README tells users to.
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  secret = '';
  private server!: http.Server;
  url = '';

  constructor(public behaviour: ReceiverBehaviour = () => 200) {}

  async start(path = '/hooks'): Promise<this> {
    this.server = http.createServer((req, res) => {
      // Only deliveries are recorded. In CI the bench runs beside the tests, and a port its service was given
      // but had not bound yet can be this receiver's: its readiness probes (GETs without a body) land here.
      if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://receiver').pathname !== path) {
        res.writeHead(404).end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const header = req.headers['x-callscheduler-signature'];
        const record: ReceivedWebhook = {
          at: Date.now(),
          headers: req.headers,
          body,
          envelope: JSON.parse(body),
          signature: verifyWebhookSignature(this.secret, body, Array.isArray(header) ? header[0] : header, new Date()),
          response: 'hang',
        };
        const action = this.behaviour(this.received.length, record.envelope);
        record.response = action;
        this.received.push(record);
        if (action === 'hang') return;
        res.writeHead(action, { 'content-type': 'text/plain' }).end(action < 300 ? 'ok' : 'nope');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }

  ofType(type: string): ReceivedWebhook[] {
    return this.received.filter((r) => r.envelope.type === type);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
