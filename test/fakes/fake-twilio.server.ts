import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalHttpServer } from './local-http-server';

export interface RecordedCallRequest {
  at: number;
  params: Record<string, string | string[]>;
}

export interface FakeCall {
  sid: string;
  to: string;
  from: string;
  status: string;
  duration: number | null;
  dateCreated: Date;
}

// What the next calls.create requests get, in order; once used up, requests succeed.
export type Scripted = { kind: 'status'; status: number; code: number; message: string } | { kind: 'drop' };

const REQUIRED = ['To', 'From', 'StatusCallback'];

// A local stand-in for api.twilio.com's Calls resource, speaking its protocol: Basic auth with the
// account SID and token, form-encoded Calls.json creates, JSON answers with CA… sids, list and fetch.
export class FakeTwilioServer extends LocalHttpServer {
  readonly requests: RecordedCallRequest[] = [];
  readonly calls: FakeCall[] = [];
  readonly authFailures: string[] = [];
  private readonly script: Scripted[] = [];

  constructor(
    readonly accountSid: string,
    private readonly authToken: string,
  ) {
    super();
  }

  respondWith(...steps: Scripted[]): void {
    this.script.push(...steps);
  }

  // What Twilio would report for the call from now on, whether or not its callbacks reach us.
  finish(sid: string, status: string, duration: number): void {
    Object.assign(this.calls.find((c) => c.sid === sid)!, { status, duration });
  }

  createRequestsTo(phone: string): RecordedCallRequest[] {
    return this.requests.filter((r) => r.params.To === phone);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A request counts when it arrives, as at Twilio: the body is read on later turns of an event loop this
    // fake shares with the services under test, and under load that would bunch the recorded times.
    const arrivedAt = Date.now();
    const body = await new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString('utf8')));
      req.on('end', () => resolve(data));
    });
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      this.authFailures.push(req.url ?? '');
      return this.json(res, 401, { code: 20003, message: 'Authenticate', status: 401 });
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const base = `/2010-04-01/Accounts/${this.accountSid}/Calls`;
    if (req.method === 'POST' && url.pathname === `${base}.json`) return this.create(body, res, arrivedAt);
    if (req.method === 'GET' && url.pathname === `${base}.json`) return this.list(url, res);
    const fetch = url.pathname.match(new RegExp(`^${base}/(CA[0-9a-f]{32})\\.json$`));
    if (req.method === 'GET' && fetch) {
      const call = this.calls.find((c) => c.sid === fetch[1]);
      return call ? this.json(res, 200, this.view(call)) : this.json(res, 404, { code: 20404, message: 'Not found', status: 404 });
    }
    this.json(res, 404, { code: 20404, message: `No route ${req.method} ${url.pathname}`, status: 404 });
  }

  private create(body: string, res: ServerResponse, arrivedAt: number): void {
    const params: Record<string, string | string[]> = {};
    for (const [k, v] of new URLSearchParams(body)) {
      const prev = params[k];
      params[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    this.requests.push({ at: arrivedAt, params });
    const step = this.script.shift();
    if (step?.kind === 'status') return this.json(res, step.status, { code: step.code, message: step.message, more_info: `https://www.twilio.com/docs/errors/${step.code}`, status: step.status });
    const missing = REQUIRED.filter((k) => typeof params[k] !== 'string' || params[k] === '');
    if (missing.length > 0 || (!params.Url && !params.Twiml && !params.ApplicationSid)) {
      return this.json(res, 400, { code: 21205, message: `Missing ${missing.join(', ') || 'Url or Twiml'}`, status: 400 });
    }
    const call: FakeCall = { sid: `CA${randomBytes(16).toString('hex')}`, to: String(params.To), from: String(params.From), status: 'queued', duration: null, dateCreated: new Date() };
    // Twilio has created the call by the time the connection drops: only a lookup can tell.
    this.calls.push(call);
    if (step?.kind === 'drop') {
      res.socket?.destroy();
      return;
    }
    this.json(res, 201, this.view(call));
  }

  private list(url: URL, res: ServerResponse): void {
    const to = url.searchParams.get('To');
    const from = url.searchParams.get('From');
    const matching = this.calls.filter((c) => (!to || c.to === to) && (!from || c.from === from)).sort((a, b) => b.dateCreated.getTime() - a.dateCreated.getTime());
    this.json(res, 200, {
      calls: matching.map((c) => this.view(c)),
      page: 0,
      page_size: 50,
      first_page_uri: url.pathname,
      next_page_uri: null,
      previous_page_uri: null,
      uri: url.pathname,
      start: 0,
      end: matching.length,
    });
  }

  private view(call: FakeCall) {
    return {
      sid: call.sid,
      account_sid: this.accountSid,
      to: call.to,
      from: call.from,
      status: call.status,
      direction: 'outbound-api',
      date_created: call.dateCreated.toUTCString(),
      date_updated: call.dateCreated.toUTCString(),
      start_time: null,
      end_time: null,
      duration: call.duration === null ? null : String(call.duration),
      answered_by: null,
      api_version: '2010-04-01',
      uri: `/2010-04-01/Accounts/${this.accountSid}/Calls/${call.sid}.json`,
    };
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}
