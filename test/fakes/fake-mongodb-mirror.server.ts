import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalHttpServer } from './local-http-server';

// Stands in for fastdl.mongodb.org: either holds every request open (a network that swallows packets)
// or refuses the archive, and records what was asked.
export class FakeMongodbMirror extends LocalHttpServer {
  mode: 'hang' | 'not-found' = 'hang';
  readonly requests: Array<{ method: string; path: string }> = [];

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests.push({ method: req.method ?? '', path: req.url ?? '' });
    if (this.mode === 'hang') return;
    res.writeHead(404).end();
  }
}
