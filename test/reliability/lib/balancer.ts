import { createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// What production puts in front of several instances: PUBLIC_BASE_URL points here, so provider
// callbacks reach whichever instance is alive (a killed one is skipped, a restarted one rejoins).
export class Balancer {
  private server: Server | null = null;
  private next = 0;
  url = '';

  constructor(private readonly backends: () => string[]) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const backends = this.backends();
    for (let i = 0; i < backends.length; i++) {
      const target = new URL(backends[(this.next++ + i) % backends.length]);
      const ok = await new Promise<boolean>((resolve) => {
        const upstream = request(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on('end', () => resolve(true));
            answer.on('error', () => resolve(true));
          },
        );
        upstream.on('error', () => resolve(res.headersSent));
        upstream.end(body);
      });
      if (ok) return;
    }
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('no live instance');
  }
}
