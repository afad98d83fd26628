import { Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { getConnectionToken } from '@nestjs/mongoose';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Connection } from 'mongoose';
import request from 'supertest';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { FormParams, signTwilioRequest } from '../../src/calls/webhook-signature';
import { twilioCallbackParams } from '../utils/twilio-callbacks';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { CallLog } from '../../src/tracking/call-log.types';
import { RecordingCallDispatcher } from '../utils/recording-dispatcher';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { afterQueuedPublications } from '../utils/settle';
import { waitFor } from '../utils/wait';

const PUBLIC_BASE = 'https://scheduler.example.com';
const SIGNING_TOKEN = 'webhook-test-signing-token-0123456789';
const PATH = '/webhook/call-status';
const owner = bearer(tokenFor('hook-owner'));

const newCallSid = () => `CA${randomBytes(16).toString('hex')}`;

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

interface CallbackOptions {
  signature?: string | null;
  signedUrl?: string;
  query?: string;
  contentType?: string;
}

describe('status callback webhook (e2e, signed like Twilio)', () => {
  let t: TestApp;
  let logs: CallLogRepository;
  let db: Connection;
  const recorder = new RecordingCallDispatcher();
  const events: Array<{ type: string; call_log_id?: string; schedule_id?: string }> = [];

  beforeAll(async () => {
    t = await createTestApp({
      env: { PUBLIC_BASE_URL: PUBLIC_BASE, SIMULATOR_SIGNING_TOKEN: SIGNING_TOKEN },
      override: (b) => b.overrideProvider(CallDispatcher).useValue(recorder),
    });
    logs = t.get(CallLogRepository);
    db = t.get<Connection>(getConnectionToken());
    t.get<EventEmitter2>(EventEmitter2).onAny((type: string | string[], event: { call_log_id?: string; schedule_id?: string }) => {
      events.push({ type: String(type), call_log_id: event?.call_log_id, schedule_id: event?.schedule_id });
    });
  });
  afterAll(() => t.close());

  const http = () => request(t.app.getHttpServer());
  const queryFor = (log: CallLog) => `?call_log_id=${log.id}`;

  // Signs over PUBLIC_BASE_URL + path + query unless told otherwise, and posts to the local server.
  function callback(params: FormParams, options: CallbackOptions = {}) {
    const query = options.query ?? '';
    const signature = options.signature === undefined ? signTwilioRequest(SIGNING_TOKEN, options.signedUrl ?? `${PUBLIC_BASE}${PATH}${query}`, params) : options.signature;
    let req = http()
      .post(`${PATH}${query}`)
      .set('content-type', options.contentType ?? 'application/x-www-form-urlencoded');
    if (signature !== null) req = req.set('x-twilio-signature', signature);
    return req.send(options.contentType === 'application/json' ? JSON.stringify(params) : new URLSearchParams(params as Record<string, string>).toString());
  }

  async function seedLog(callSid: string, scheduleId: string | null = null): Promise<CallLog> {
    const now = new Date();
    const log = await logs.createForAttempt(
      logs.newId(),
      {
        tenant_id: 'hook-tenant',
        created_by: 'hook-owner',
        user_profile_id: null,
        agent_instance_id: null,
        schedule_id: scheduleId,
        occurrence_at: now,
        status: 'queued',
        call_type: 'outbound',
        phone: '+14155552671',
        timestamp: now,
        notes: null,
        metadata: {},
        attempt_number: 1,
      },
      now,
    );
    await logs.recordPlacedCall(log.id, 'simulated', callSid, now);
    return (await logs.findById(log.id)) as CallLog;
  }

  const params = twilioCallbackParams;
  const receiptCount = () => db.collection('call_status_receipts').countDocuments({});
  const eventsFor = (logId: string) => events.filter((e) => e.call_log_id === logId);

  describe('signature', () => {
    let log: CallLog;
    let sid: string;

    beforeEach(async () => {
      sid = newCallSid();
      log = await seedLog(sid);
    });

    // A rejected callback leaves no trace: same log document, no receipt, no event.
    async function expectRejected(res: request.Response): Promise<void> {
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ status: 'error', error_code: 'WEBHOOK_001', details: { field: 'X-Twilio-Signature' } });
      expect(typeof res.body.timestamp).toBe('string');
      expect(await logs.findById(log.id)).toEqual(log);
      // Events of an applied callback are queued before its answer: past them, none was queued for this one.
      await afterQueuedPublications();
      expect(eventsFor(log.id)).toEqual([]);
    }

    it('accepts a request signed over PUBLIC_BASE_URL (https) that arrives over plain http', async () => {
      const res = await callback(params(sid, 'ringing', 1), { query: queryFor(log) }).expect(200);
      expect(res.body).toEqual({ status: 'success', outcome: 'applied' });
      expect((await logs.findById(log.id))?.status).toBe('ringing');
    });

    it('rejects a request whose signature covers the URL as it arrived (http + Host) instead of PUBLIC_BASE_URL', async () => {
      const asArrived = `${t.url}${PATH}${queryFor(log)}`;
      expect(asArrived.startsWith('http://')).toBe(true);
      const receipts = await receiptCount();
      await expectRejected(await callback(params(sid, 'ringing', 1), { query: queryFor(log), signedUrl: asArrived }));
      expect(await receiptCount()).toBe(receipts);
    });

    it('rejects one tampered parameter without any state change', async () => {
      const signed = params(sid, 'ringing', 1);
      const signature = signTwilioRequest(SIGNING_TOKEN, `${PUBLIC_BASE}${PATH}${queryFor(log)}`, signed);
      const receipts = await receiptCount();
      await expectRejected(await callback({ ...signed, CallStatus: 'completed', CallDuration: '60' }, { query: queryFor(log), signature }));
      expect(await receiptCount()).toBe(receipts);
    });

    it('rejects a missing, empty or oversized signature header', async () => {
      await expectRejected(await callback(params(sid, 'ringing', 1), { query: queryFor(log), signature: null }));
      await expectRejected(await callback(params(sid, 'ringing', 1), { query: queryFor(log), signature: '' }));
      await expectRejected(await callback(params(sid, 'ringing', 1), { query: queryFor(log), signature: 'A'.repeat(300) }));
    });

    it('rejects a signature made for another URL (host, path or query)', async () => {
      const p = params(sid, 'ringing', 1);
      await expectRejected(await callback(p, { query: queryFor(log), signedUrl: `https://other.example.com${PATH}${queryFor(log)}` }));
      await expectRejected(await callback(p, { query: queryFor(log), signedUrl: `${PUBLIC_BASE}/webhook/other${queryFor(log)}` }));
      await expectRejected(await callback(p, { query: queryFor(log), signedUrl: `${PUBLIC_BASE}${PATH}` }));
      await expectRejected(await callback(p, { query: queryFor(log), signedUrl: `${PUBLIC_BASE.replace('https', 'http')}${PATH}${queryFor(log)}` }));
    });

    it('rejects a signed JSON body: callbacks are form-encoded', async () => {
      await expectRejected(await callback(params(sid, 'ringing', 1), { query: queryFor(log), contentType: 'application/json' }));
    });

    it('accepts parameters it does not know (they are signed like the rest) and ignores them', async () => {
      const p = params(sid, 'ringing', 1, { CallbackSource: 'call-progress-events', ParentCallSid: '', SomeFutureField: 'x y+z' });
      await callback(p, { query: queryFor(log) }).expect(200);
      const after = await logs.findById(log.id);
      expect(after?.status).toBe('ringing');
      expect(JSON.stringify(after)).not.toContain('SomeFutureField');
    });

    it('validates a query string containing + and %20 exactly as received', async () => {
      const query = `${queryFor(log)}&tag=a+b%20c&note=x%2By`;
      await callback(params(sid, 'ringing', 1), { query }).expect(200);
      expect((await logs.findById(log.id))?.status).toBe('ringing');
    });

    it('rejects a signature over a decoded form of that query string', async () => {
      const query = `${queryFor(log)}&tag=a+b%20c`;
      await expectRejected(await callback(params(sid, 'ringing', 1), { query, signedUrl: `${PUBLIC_BASE}${PATH}${queryFor(log)}&tag=a b c` }));
    });
  });

  it('ends every one of the 24 orderings of initiated/ringing/in-progress/completed in the same log', async () => {
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const steps = [
      { status: 'initiated', seq: 0 },
      { status: 'ringing', seq: 1 },
      { status: 'in-progress', seq: 2 },
      { status: 'completed', seq: 3, extra: { CallDuration: '42', AnsweredBy: 'human' } },
    ];
    const stamp = (seq: number) => new Date(t0 + seq * 1000);
    const orders = permutations(steps);
    expect(orders).toHaveLength(24);
    const seeded = await Promise.all(orders.map(async (order) => ({ order, log: await seedLog(newCallSid()) })));

    // Logs in parallel (database contention included), each log's callbacks in its permutation's order.
    await Promise.all(
      seeded.map(async ({ order, log }) => {
        for (const step of order) {
          const p = params(log.call_id as string, step.status, step.seq, { Timestamp: stamp(step.seq).toUTCString(), ...(step.extra ?? {}) });
          const res = await callback(p, { query: queryFor(log) });
          expect(res.status).toBe(200);
        }
      }),
    );

    const finals = await Promise.all(seeded.map(({ log }) => logs.findById(log.id)));
    const shapes = finals.map((l) => {
      const fromCallbacks = (l?.timeline ?? []).filter((e) => e.source === 'twilio_callback');
      return {
        status: l?.status,
        start_time: l?.start_time?.toISOString(),
        end_time: l?.end_time?.toISOString(),
        duration: l?.duration,
        answered_by: l?.answered_by,
        callback_events: fromCallbacks.map((e) => `${e.sequence_number}:${e.status}:${new Date(e.ts).toISOString()}`).sort(),
      };
    });
    const expected = {
      status: 'completed',
      start_time: stamp(2).toISOString(),
      end_time: stamp(3).toISOString(),
      duration: 42,
      answered_by: 'human',
      callback_events: steps.map((s) => `${s.seq}:${s.status.replace('-', '_')}:${stamp(s.seq).toISOString()}`).sort(),
    };
    shapes.forEach((shape, i) => expect({ order: orders[i].map((s) => s.status).join(','), ...shape }).toEqual({ order: orders[i].map((s) => s.status).join(','), ...expected }));
  });

  it('applies the 4 callbacks of a call delivered all at once (concurrently) without losing one', async () => {
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const seeded = await Promise.all([1, 2, 3, 4, 5, 6].map(() => seedLog(newCallSid())));
    await Promise.all(
      seeded.flatMap((log) =>
        ['completed', 'in-progress', 'ringing', 'initiated'].map((status, i) =>
          callback(params(log.call_id as string, status, 3 - i, { Timestamp: new Date(t0 + (3 - i) * 1000).toUTCString(), ...(status === 'completed' ? { CallDuration: '7' } : {}) }), {
            query: queryFor(log),
          }).expect(200),
        ),
      ),
    );
    for (const log of seeded) {
      const after = await logs.findById(log.id);
      expect(after).toMatchObject({ status: 'completed', duration: 7, start_time: new Date(t0 + 2000), end_time: new Date(t0 + 3000) });
      expect(after?.timeline.filter((e) => e.source === 'twilio_callback').map((e) => e.sequence_number).sort()).toEqual([0, 1, 2, 3]);
    }
  });

  describe('deliveries for a dispatched schedule', () => {
    async function dispatchedCall(): Promise<{ scheduleId: string; log: CallLog }> {
      const created = await http()
        .post('/schedule/')
        .set(owner)
        .send({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 1200).toISOString() })
        .expect(200);
      const scheduleId = created.body.schedule_id as string;
      const log = await waitFor(async () => {
        const [first] = await logs.findForSchedule(scheduleId);
        return first?.call_id ? first : null;
      }, 20_000);
      await waitFor(async () => (await http().get(`/schedule/${scheduleId}`).set(owner)).body.schedule?.status === 'running', 10_000);
      return { scheduleId, log };
    }
    const scheduleEvents = async (id: string) => (await http().get(`/schedule/${id}`).set(owner).expect(200)).body.schedule;

    // Exactly one outcome: schedule completed once, one call_final event, the callbacks each once in the timeline.
    async function expectOneOutcome(scheduleId: string, logId: string, duration: number, callbackEvents: number): Promise<void> {
      const schedule = await scheduleEvents(scheduleId);
      expect(schedule).toMatchObject({ status: 'completed', last_call_status: 'completed', duration });
      expect(schedule.events.filter((e: { type: string }) => e.type === 'call_final')).toHaveLength(1);
      const after = await logs.findById(logId);
      expect(after?.timeline.filter((e) => e.source === 'twilio_callback')).toHaveLength(callbackEvents);
      expect(after?.outcome_recorded_at).toBeInstanceOf(Date);
      await waitFor(async () => eventsFor(logId).some((e) => e.type === 'call.completed'), 5000, 20);
      // Every delivery has been answered, and each queued its events before answering: all are out now.
      await afterQueuedPublications();
      expect(eventsFor(logId).filter((e) => e.type === 'call.completed')).toHaveLength(1);
    }

    it('applies a redelivered callback once: 2xx every time, one event, one schedule outcome', async () => {
      const { scheduleId, log } = await dispatchedCall();
      const sid = log.call_id as string;
      const ringing = params(sid, 'ringing', 1);
      const completed = params(sid, 'completed', 3, { CallDuration: '17' });

      const ringingOutcomes = await Promise.all([1, 2, 3].map(() => callback(ringing, { query: queryFor(log) }).expect(200)));
      expect(ringingOutcomes.map((r) => r.body.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
      const first = await callback(completed, { query: queryFor(log) }).expect(200);
      expect(first.body.outcome).toBe('applied');
      const again = await Promise.all([1, 2].map(() => callback(completed, { query: queryFor(log) }).expect(200)));
      expect(again.map((r) => r.body.outcome)).toEqual(['duplicate', 'duplicate']);

      await expectOneOutcome(scheduleId, log.id, 17, 2);
      expect(eventsFor(log.id).filter((e) => e.type === 'call.ringing')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'schedule.completed' && e.schedule_id === scheduleId)).toHaveLength(1);
    });

    it('finishes the schedule outcome when a final callback was applied but its delivery failed before the outcome', async () => {
      const { scheduleId, log } = await dispatchedCall();
      const sid = log.call_id as string;
      const completed = params(sid, 'completed', 3, { CallDuration: '9' });
      // What a delivery that crashed right after the log write leaves behind: the event in the timeline,
      // no receipt (withdrawn), no outcome.
      const now = new Date();
      await logs.applyStatusEvent(
        log.id,
        { status: 'completed', ts: now, received_at: now, sequence_number: 3, source: 'twilio_callback', provider_status: 'completed' },
        { call_id: sid, end_time: now, duration: 9 },
        now,
      );
      expect((await scheduleEvents(scheduleId)).status).toBe('running');

      await callback(completed, { query: queryFor(log) }).expect(200);
      await callback(completed, { query: queryFor(log) }).expect(200);

      await expectOneOutcome(scheduleId, log.id, 9, 1);
    });

    it('applies a redelivery whose first delivery died between its receipt and the log write', async () => {
      const { scheduleId, log } = await dispatchedCall();
      const sid = log.call_id as string;
      const completed = params(sid, 'completed', 3, { CallDuration: '12' });
      // What an instance killed right after the receipt insert leaves behind: the receipt and nothing else.
      const receipts = db.collection('call_status_receipts');
      await receipts.insertOne({ call_sid: sid, dedupe_key: 'seq:3', received_at: new Date() });

      // Young, it may be a delivery still running on another instance: retry later, nothing changes.
      const busy = await callback(completed, { query: queryFor(log) }).expect(503);
      expect(busy.body).toMatchObject({ status: 'error', error_code: 'WEBHOOK_003', details: { field: 'CallSid' } });
      const untouched = await logs.findById(log.id);
      expect(untouched?.status).toBe(log.status);
      expect(untouched?.outcome_recorded_at ?? null).toBeNull();
      expect((await scheduleEvents(scheduleId)).status).toBe('running');

      // Older than Twilio's request timeout: that delivery is gone, and this copy applies the callback.
      await receipts.updateOne({ call_sid: sid, dedupe_key: 'seq:3' }, { $set: { received_at: new Date(Date.now() - 20_000) } });
      expect((await callback(completed, { query: queryFor(log) }).expect(200)).body.outcome).toBe('applied');
      expect((await callback(completed, { query: queryFor(log) }).expect(200)).body.outcome).toBe('duplicate');

      await expectOneOutcome(scheduleId, log.id, 12, 1);
      expect(await receipts.countDocuments({ call_sid: sid })).toBe(1);
    });
  });

  it('answers 2xx for an unknown CallSid, logs it and records nothing', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const sid = newCallSid();
      const [logsBefore, receiptsBefore] = await Promise.all([db.collection('call_logs').countDocuments({}), receiptCount()]);
      const res = await callback(params(sid, 'completed', 3, { CallDuration: '5' })).expect(200);
      expect(res.body).toEqual({ status: 'success', outcome: 'unknown_call' });
      // A call_log_id of a log that belongs to another call does not adopt the callback either.
      const other = await seedLog(newCallSid());
      await callback(params(sid, 'completed', 3), { query: queryFor(other) }).expect(200);
      expect(await logs.findById(other.id)).toEqual(other);
      expect(await db.collection('call_logs').countDocuments({})).toBe(logsBefore + 1);
      expect(await receiptCount()).toBe(receiptsBefore);
      expect(warn.mock.calls.some(([message]) => String(message).includes(sid))).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });

  it('persists the transition before answering and runs subscribers only after the response is written', async () => {
    const server = t.app.getHttpServer() as Server;
    const finished = new Set<string>();
    const track = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith(PATH)) res.on('finish', () => finished.add(req.url as string));
    };
    server.on('request', track);
    const emitter = t.get<EventEmitter2>(EventEmitter2);
    const seen: Array<{ responseFinished: boolean; status: string | undefined }> = [];
    const sid = newCallSid();
    const log = await seedLog(sid);
    const url = `${PATH}${queryFor(log)}`;
    // A slow, synchronous and failing subscriber: none of it may hold up or break the answer.
    const slow = () => {
      const responseFinished = finished.has(url);
      const started = Date.now();
      while (Date.now() - started < 300) {
        /* busy: a synchronous subscriber */
      }
      void logs.findById(log.id).then((l) => seen.push({ responseFinished, status: l?.status }));
      throw new Error('subscriber failure');
    };
    emitter.on('call.completed', slow);
    try {
      const res = await callback(params(sid, 'completed', 3, { CallDuration: '30' }), { query: queryFor(log) });
      expect(res.status).toBe(200);
      await waitFor(async () => seen.length > 0, 5000, 20);
      expect(seen).toEqual([{ responseFinished: true, status: 'completed' }]);
    } finally {
      emitter.off('call.completed', slow);
      server.off('request', track);
    }
  });
});
