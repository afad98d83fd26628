import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalHttpServer } from './local-http-server';

export interface BackendRequest {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

// A local voice-agent backend (Calleroo's /call/brief and /call/start) that checks the bearer token.
export class FakeAgentBackendServer extends LocalHttpServer {
  readonly requests: BackendRequest[] = [];
  // Numbers /call/start refuses with a 400, as a backend refuses a call it cannot place.
  readonly refusePhones = new Set<string>();

  constructor(private readonly token: string) {
    super();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += (chunk as Buffer).toString('utf8');
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    this.requests.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.headers.authorization !== `Bearer ${this.token}`) return send(401, { detail: 'bad token' });
    if (req.method === 'POST' && req.url === '/call/brief') {
      const place = body.place as Record<string, unknown> | undefined;
      return send(200, { scriptPreview: `Hello ${String(place?.businessName ?? 'there')}, calling about ${JSON.stringify(body.slots)}` });
    }
    if (req.method === 'POST' && req.url === '/call/start') {
      if (typeof body.phoneE164 !== 'string' || typeof body.scriptPreview !== 'string') return send(422, { detail: 'phoneE164 and scriptPreview are required' });
      if (this.refusePhones.has(body.phoneE164)) return send(400, { detail: `cannot call ${body.phoneE164}: number not reachable` });
      return send(200, { callId: `CA${randomBytes(16).toString('hex')}`, status: 'started' });
    }
    send(404, { detail: 'not found' });
  }
}
