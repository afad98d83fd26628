import type { IncomingMessage, ServerResponse } from 'node:http';
import { signTwilioRequest } from '../../../src/calls/webhook-signature';
import { FakeCall, FakeTwilioServer } from '../../fakes/fake-twilio.server';
import { LocalHttpServer } from '../../fakes/local-http-server';
import { Rng, sleep } from './util';

export type CreateFault = 'none' | '429' | '500' | 'reset';

export interface CreateRecord {
  at: number;
  to: string;
  callLogId: string | null;
  fault: CreateFault;
  sid: string | null;
}

export interface FaultMix {
  p429: number;
  p500: number;
  // The connection is reset after the request was read and the call created: only a lookup can tell.
  pReset: number;
}

export interface CallbackPlan {
  enabled: boolean;
  // What Twilio reports for every call it created; each status is one signed callback, in this order.
  statuses: string[];
  delayMs: number;
}

const NO_FAULTS: FaultMix = { p429: 0, p500: 0, pReset: 0 };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString('utf8')));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

// The fake Twilio the service reaches over HTTP (TWILIO_API_BASE_URL). It is a front composed over
// test/fakes' FakeTwilioServer, which stays the record of the calls Twilio "created" (the duplicate
// judge reads that record, keyed by callee number). The front adds what the reliability scenarios
// need: a random fault mix on calls.create (429, 500, reset after the call was created) and signed
// status callbacks to the URL the service gave in StatusCallback.
export class ReliabilityTwilio extends LocalHttpServer {
  readonly inner: FakeTwilioServer;
  readonly creates: CreateRecord[] = [];
  readonly callbackResults = { delivered: 0, failed: 0, non2xx: 0 };
  // Every delivery attempt's outcome: a callback that stays pending shows here whether the service
  // answered 5xx, did not answer within the attempt's 30 s, or could not be reached.
  readonly callbackAttempts = { answered: 0, status5xx: 0, timedOut: 0, unreachable: 0 };
  // One entry per callback still to deliver, from its call's creation.
  private readonly pendingSince = new Set<{ at: number }>();
  mix: FaultMix = NO_FAULTS;
  private readonly callbackQueue: Array<() => Promise<void>> = [];
  private activeSenders = 0;

  constructor(
    readonly accountSid: string,
    readonly authToken: string,
    private readonly rng: Rng,
    public callbacks: CallbackPlan = { enabled: true, statuses: ['completed'], delayMs: 300 },
    private readonly callbackConcurrency = 3,
  ) {
    super();
    this.inner = new FakeTwilioServer(accountSid, authToken);
  }

  override async start(): Promise<void> {
    await this.inner.start();
    await super.start();
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.inner.stop();
  }

  get faultsInjected(): number {
    return this.creates.filter((c) => c.fault !== 'none').length;
  }

  get callbacksPending(): number {
    return this.pendingSince.size;
  }

  // Milliseconds the longest-pending callback has waited, from its call's creation (0: none pending).
  get oldestPendingCallbackMs(): number {
    let oldest = Infinity;
    for (const { at } of this.pendingSince) oldest = Math.min(oldest, at);
    return oldest === Infinity ? 0 : Date.now() - oldest;
  }

  // Calls the provider created, grouped by callee: more than one for one occurrence's number is a double dial.
  createdByPhone(): Map<string, FakeCall[]> {
    const byPhone = new Map<string, FakeCall[]>();
    for (const call of this.inner.calls) byPhone.set(call.to, [...(byPhone.get(call.to) ?? []), call]);
    return byPhone;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (error) {
      if (!res.headersSent) this.json(res, 502, { code: 20500, message: `fake front: ${String(error)}`, status: 502 });
      else res.destroy();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    const isCreate = req.method === 'POST' && url.pathname === `/2010-04-01/Accounts/${this.accountSid}/Calls.json`;
    if (!isCreate) return this.forward(req, body, res);

    const params = new URLSearchParams(body);
    const callback = params.get('StatusCallback') ?? '';
    const record: CreateRecord = {
      at: Date.now(),
      to: params.get('To') ?? '',
      callLogId: callback ? new URL(callback).searchParams.get('call_log_id') : null,
      fault: this.roll(),
      sid: null,
    };
    this.creates.push(record);
    if (record.fault === '429') return this.json(res, 429, { code: 20429, message: 'Too Many Requests', more_info: 'https://www.twilio.com/docs/errors/20429', status: 429 });
    if (record.fault === '500') return this.json(res, 500, { code: 20500, message: 'Internal Server Error', more_info: 'https://www.twilio.com/docs/errors/20500', status: 500 });

    const answer = await fetch(`${this.inner.url}${req.url}`, { method: 'POST', headers: this.headersOf(req), body });
    const text = await answer.text();
    if (answer.status === 201) {
      const created = JSON.parse(text) as { sid: string };
      record.sid = created.sid;
      this.planCallbacks(created.sid, params);
    }
    if (record.fault === 'reset') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    res.end(text);
  }

  private roll(): CreateFault {
    const r = this.rng.next();
    const { p429, p500, pReset } = this.mix;
    if (r < p429) return '429';
    if (r < p429 + p500) return '500';
    if (r < p429 + p500 + pReset) return 'reset';
    return 'none';
  }

  private planCallbacks(sid: string, params: URLSearchParams): void {
    const statuses = this.callbacks.statuses;
    const final = statuses[statuses.length - 1];
    const duration = 5 + Math.floor(this.rng.next() * 60);
    // What a lookup (calls(sid).fetch, calls.list) reports from now on, whether or not a callback lands.
    if (final) this.inner.finish(sid, final, final === 'completed' ? duration : 0);
    if (!this.callbacks.enabled || statuses.length === 0) return;
    const url = params.get('StatusCallback');
    if (!url) return;
    const since = { at: Date.now() };
    this.pendingSince.add(since);
    const base = { AccountSid: this.accountSid, CallSid: sid, From: params.get('From') ?? '', To: params.get('To') ?? '', Direction: 'outbound-api', ApiVersion: '2010-04-01' };
    this.enqueue(async () => {
      try {
        await sleep(this.callbacks.delayMs);
        for (const [i, status] of statuses.entries()) {
          const form: Record<string, string> = { ...base, CallStatus: status, SequenceNumber: String(i), Timestamp: new Date().toUTCString() };
          if (status === 'completed') form.CallDuration = String(duration);
          await this.deliver(url, form);
        }
      } finally {
        this.pendingSince.delete(since);
      }
    });
  }

  // Twilio signs over the callback URL exactly as given; a dead instance behind the balancer is retried.
  private async deliver(url: string, form: Record<string, string>): Promise<void> {
    const signature = signTwilioRequest(this.authToken, url, form);
    for (let attempt = 0; attempt < 60; attempt++) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
          body: new URLSearchParams(form).toString(),
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        if (res.status < 500) {
          this.callbackAttempts.answered++;
          if (res.status >= 300) this.callbackResults.non2xx++;
          else this.callbackResults.delivered++;
          return;
        }
        this.callbackAttempts.status5xx++;
      } catch (error) {
        // instance down or restarting, or no answer in time: try again
        if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) this.callbackAttempts.timedOut++;
        else this.callbackAttempts.unreachable++;
      }
      await sleep(1000);
    }
    this.callbackResults.failed++;
  }

  private enqueue(task: () => Promise<void>): void {
    this.callbackQueue.push(task);
    this.pump();
  }

  private pump(): void {
    while (this.activeSenders < this.callbackConcurrency && this.callbackQueue.length > 0) {
      const task = this.callbackQueue.shift()!;
      this.activeSenders++;
      void task().finally(() => {
        this.activeSenders--;
        this.pump();
      });
    }
  }

  private async forward(req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
    const answer = await fetch(`${this.inner.url}${req.url}`, { method: req.method, headers: this.headersOf(req), body: req.method === 'GET' ? undefined : body });
    const text = await answer.text();
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    res.end(text);
  }

  private headersOf(req: IncomingMessage): Record<string, string> {
    const headers: Record<string, string> = {};
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    if (req.headers['content-type']) headers['content-type'] = String(req.headers['content-type']);
    return headers;
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}
