import { randomBytes } from 'node:crypto';
import { signTwilioRequest } from '../../../src/calls/webhook-signature';
import { createBurst, untilDue } from '../lib/burst';
import { Cluster, RunContext, Scenario, TWILIO_SID, TWILIO_TOKEN, fail, result } from '../lib/harness';
import { countOf, pool, Rng, waitUntil } from '../lib/util';

const PATH = '/webhook/call-status';
// Statuses only forged requests carry: any of them on a log means a forged request changed state.
const FORGED_STATUSES = ['busy', 'failed', 'no-answer', 'canceled'];
const FORGED_SEQUENCE_FROM = 100;
const VALID_SEQUENCE = ['ringing', 'in-progress', 'completed'];

interface Target {
  logId: string;
  callSid: string;
  to: string;
}

interface FuzzRequest {
  kind: string;
  valid: boolean;
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

interface LogDoc {
  _id: unknown;
  call_id: string | null;
  status: string;
  phone: string;
  timeline: Array<{ status: string; sequence_number: number | null; source: string; provider_status: string | null }>;
}

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

// Random and malformed requests to the status webhook, with the valid callbacks of real calls
// interleaved: no 5xx, nothing forged changes a call, every valid callback lands.
export const webhookFuzz: Scenario = {
  id: 6,
  name: 'webhook-fuzz',
  async run(ctx: RunContext) {
    const r = result('webhook-fuzz');
    const full = ctx.mode === 'full';
    const total = full ? 10_000 : 500;
    const calls = full ? 40 : 8;
    const rng = new Rng(ctx.seed).fork(6);
    const cluster = await Cluster.start(ctx, { name: 'fuzz', instances: 1, rng, callbacks: { enabled: false, statuses: ['completed'], delayMs: 0 } });
    try {
      // Real calls to aim at: placed through the fake Twilio, which this time sends no callbacks itself.
      const burst = await createBurst(cluster, { scenarioIndex: 6, count: calls, windowMs: 0 }, ctx.log);
      await untilDue(burst.dueFrom);
      r.details.burst = { created_s: Math.round(burst.createSeconds), due_spread_s: Math.round((burst.dueTo - burst.dueFrom) / 100) / 10, created_late: burst.late };
      const logs = cluster.mongo.db().collection<LogDoc>('call_logs');
      // A placed call is recorded by an insert beside its log, which takes it in with its first report (0035).
      const placedCalls = cluster.mongo.db().collection<{ _id: LogDoc['_id']; call_id: string }>('call_log_placed_calls');
      const placed = await waitUntil(async () => (await placedCalls.countDocuments({})) >= calls, full ? 900_000 : 300_000);
      if (!placed) r.notes.push(`only ${await placedCalls.countDocuments({})} of ${calls} calls were placed in time; fuzzing against those`);
      if ((await placedCalls.countDocuments({})) === 0) throw new Error('no call to fuzz against was placed');
      const targets: Target[] = await Promise.all(
        (await placedCalls.find({}).toArray()).map(async (p) => ({ logId: String(p._id), callSid: p.call_id, to: (await logs.findOne({ _id: p._id }))!.phone })),
      );
      const publicBase = cluster.balancer.url;
      const signedFor = (path: string, params: Record<string, string>, token = TWILIO_TOKEN) => signTwilioRequest(token, `${publicBase}${path}`, params);
      const base = (t: Target) => ({ AccountSid: TWILIO_SID, CallSid: t.callSid, From: '+14155550100', To: t.to, Direction: 'outbound-api', ApiVersion: '2010-04-01' });

      const valid: FuzzRequest[] = [];
      const signedSamples: Array<{ path: string; params: Record<string, string>; signature: string }> = [];
      for (const t of targets) {
        for (const [i, status] of VALID_SEQUENCE.entries()) {
          const params: Record<string, string> = { ...base(t), CallStatus: status, SequenceNumber: String(i) };
          if (status === 'completed') params.CallDuration = '42';
          const path = `${PATH}?call_log_id=${t.logId}`;
          const signature = signedFor(path, params);
          signedSamples.push({ path, params, signature });
          valid.push({ kind: 'valid', valid: true, path, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature }, body: form(params) });
        }
      }

      // Each forged request carries a sequence number of its own: a change it caused names its kind.
      let nextForgedSequence = FORGED_SEQUENCE_FROM;
      const kindBySequence = new Map<number, string>();
      const forged = (): FuzzRequest => {
        const t = rng.pick(targets);
        const path = `${PATH}?call_log_id=${t.logId}`;
        const sequence = nextForgedSequence++;
        const params: Record<string, string> = { ...base(t), CallStatus: rng.pick(FORGED_STATUSES), SequenceNumber: String(sequence) };
        const formCt = { 'content-type': 'application/x-www-form-urlencoded' };
        const kinds: Array<() => FuzzRequest> = [
          () => ({ kind: 'unsigned', valid: false, path, headers: formCt, body: form(params) }),
          () => ({ kind: 'random_signature', valid: false, path, headers: { ...formCt, 'x-twilio-signature': randomBytes(20).toString('base64') }, body: form(params) }),
          () => ({ kind: 'empty_signature', valid: false, path, headers: { ...formCt, 'x-twilio-signature': '' }, body: form(params) }),
          () => {
            // A signature captured from a real callback, replayed over different parameters.
            const sample = rng.pick(signedSamples);
            return { kind: 'replayed_signature', valid: false, path: sample.path, headers: { ...formCt, 'x-twilio-signature': sample.signature }, body: form({ ...sample.params, CallStatus: rng.pick(FORGED_STATUSES), SequenceNumber: String(FORGED_SEQUENCE_FROM) }) };
          },
          () => {
            const sample = rng.pick(signedSamples);
            const other = rng.pick(targets);
            return { kind: 'replayed_to_other_log', valid: false, path: `${PATH}?call_log_id=${other.logId}`, headers: { ...formCt, 'x-twilio-signature': sample.signature }, body: form({ ...sample.params, CallStatus: rng.pick(FORGED_STATUSES) }) };
          },
          () => ({ kind: 'wrong_token', valid: false, path, headers: { ...formCt, 'x-twilio-signature': signedFor(path, params, 'not-the-auth-token-0000') }, body: form(params) }),
          () => ({ kind: 'signed_other_url', valid: false, path, headers: { ...formCt, 'x-twilio-signature': signTwilioRequest(TWILIO_TOKEN, `http://evil.example${path}`, params) }, body: form(params) }),
          () => ({ kind: 'json_body', valid: false, path, headers: { 'content-type': 'application/json', 'x-twilio-signature': signedFor(path, params) }, body: JSON.stringify(params) }),
          () => ({ kind: 'text_plain', valid: false, path, headers: { 'content-type': 'text/plain', 'x-twilio-signature': signedFor(path, params) }, body: form(params) }),
          () => ({ kind: 'multipart', valid: false, path, headers: { 'content-type': 'multipart/form-data; boundary=x', 'x-twilio-signature': signedFor(path, params) }, body: `--x\r\nContent-Disposition: form-data; name="CallStatus"\r\n\r\n${params.CallStatus}\r\n--x--\r\n` }),
          () => ({ kind: 'no_content_type', valid: false, path, headers: { 'x-twilio-signature': signedFor(path, params) }, body: form(params) }),
          () => ({ kind: 'huge_body', valid: false, path, headers: { ...formCt, 'x-twilio-signature': randomBytes(20).toString('base64') }, body: form({ ...params, Junk: 'x'.repeat(rng.pick([70_000, 300_000, 2_000_000])) }) }),
          () => {
            const weird = { ...params, CallStatus: rng.pick(['ǅone', '完成', '🙂', 'completed\u0000', 'COMPLETED', '']), CallSid: rng.pick([t.callSid, `CA${'🙂'.repeat(16)}`, 'CA' + 'z'.repeat(32)]), Caller: '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ‮ RTL' };
            return { kind: 'unicode', valid: false, path, headers: { ...formCt, 'x-twilio-signature': rng.chance(0.5) ? signedFor(path, weird, 'not-the-auth-token-0000') : randomBytes(20).toString('base64') }, body: form(weird) };
          },
          () => {
            // Correctly signed, but fields missing or malformed: refused, and nothing changes.
            const broken: Record<string, string> = { ...params };
            const drop = rng.pick(['CallSid', 'CallStatus', 'both']);
            if (drop !== 'CallStatus') delete broken.CallSid;
            if (drop !== 'CallSid') delete broken.CallStatus;
            return { kind: 'signed_missing_fields', valid: false, path, headers: { ...formCt, 'x-twilio-signature': signedFor(path, broken) }, body: form(broken) };
          },
          () => {
            // Signed (so it may be accepted), with a real callback's parameters: at most a duplicate.
            const sample = rng.pick(signedSamples);
            const logId = new URL(sample.path, 'http://x').searchParams.get('call_log_id');
            const badPath = rng.pick([`${PATH}?call_log_id=not-an-id`, `${PATH}?call_log_id[$ne]=x`, `${PATH}?call_log_id=${logId}&call_log_id=${logId}`, `${PATH}?call_log_id=${'f'.repeat(5000)}`, `${PATH}?call_log_id=`]);
            return { kind: 'signed_bad_query', valid: false, path: badPath, headers: { ...formCt, 'x-twilio-signature': signedFor(badPath, sample.params) }, body: form(sample.params) };
          },
          () => ({ kind: 'invalid_utf8', valid: false, path, headers: { ...formCt, 'x-twilio-signature': randomBytes(20).toString('base64') }, body: Buffer.concat([Buffer.from('CallSid='), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(`&CallStatus=${params.CallStatus}`)]) }),
          () => ({ kind: 'garbage', valid: false, path, headers: { ...formCt, 'x-twilio-signature': randomBytes(rng.int(0, 400)).toString('base64') }, body: randomBytes(rng.int(0, 4000)) }),
          () => ({ kind: 'long_signature_header', valid: false, path, headers: { ...formCt, 'x-twilio-signature': 'A'.repeat(8000) }, body: form(params) }),
        ];
        const request = rng.pick(kinds)();
        kindBySequence.set(sequence, request.kind);
        return request;
      };

      // Exact redeliveries of valid callbacks are what Twilio does on a timeout: accepted, no second effect.
      const requests: FuzzRequest[] = [];
      const forgedCount = Math.max(0, total - valid.length);
      for (let i = 0; i < forgedCount; i++) requests.push(rng.chance(0.03) ? { ...rng.pick(valid), kind: 'exact_replay', valid: true } : forged());
      for (const v of valid) requests.splice(rng.int(0, requests.length), 0, v);

      const statusByKind: Record<string, Record<string, number>> = {};
      let fivexx = 0;
      let networkErrors = 0;
      const validFailures: string[] = [];
      const target = cluster.services[0].url;
      await pool(requests, 8, async (req) => {
        let status: number | string;
        try {
          const res = await fetch(`${target}${req.path}`, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(60_000) });
          await res.arrayBuffer();
          status = res.status;
        } catch (error) {
          status = `network:${error instanceof Error ? (error.cause as { code?: string } | undefined)?.code ?? error.name : 'error'}`;
          networkErrors++;
        }
        if (typeof status === 'number' && status >= 500) fivexx++;
        (statusByKind[req.kind] ??= {})[String(status)] = (statusByKind[req.kind]?.[String(status)] ?? 0) + 1;
        if (req.kind === 'valid' && status !== 200) validFailures.push(`${req.path} -> ${status}`);
      });
      r.occurrences = targets.length;
      r.faults = requests.filter((q) => !q.valid).length;
      r.details.requests = requests.length;
      r.details.status_by_kind = statusByKind;

      // After: every call is exactly where its valid callbacks put it, and carries nothing forged.
      await waitUntil(async () => (await logs.countDocuments({ status: 'completed' })) >= targets.length, 30_000, 500);
      const after = await logs.find({}).toArray();
      const forgedEntries = after.flatMap((l) =>
        l.timeline.filter((e) => FORGED_STATUSES.includes(e.provider_status ?? '') || (e.sequence_number ?? 0) >= FORGED_SEQUENCE_FROM).map((e) => ({ log: String(l._id), kind: kindBySequence.get(e.sequence_number ?? -1) ?? 'unknown', entry: e })),
      );
      const changedByForgery = [...new Set(forgedEntries.map((f) => f.log))];
      r.details.forged_changes_by_kind = countOf(forgedEntries.map((f) => f.kind));
      const validEntries = (l: LogDoc) => l.timeline.filter((e) => e.sequence_number !== null && e.sequence_number < VALID_SEQUENCE.length && e.provider_status === VALID_SEQUENCE[e.sequence_number]);
      const notApplied = after.filter((l) => targets.some((t) => t.logId === String(l._id)) && (l.status !== 'completed' || validEntries(l).length !== VALID_SEQUENCE.length));
      r.lost = notApplied.length;
      r.details.timeline_sources = countOf(after.flatMap((l) => l.timeline.map((e) => e.source)));
      if (fivexx > 0) fail(r, `${fivexx} response(s) were 5xx: ${JSON.stringify(Object.fromEntries(Object.entries(statusByKind).filter(([, v]) => Object.keys(v).some((k) => k.startsWith('5')))))}`);
      if (changedByForgery.length > 0) {
        fail(r, `${changedByForgery.length} call log(s) changed by ${forgedEntries.length} invalid request(s), by kind ${JSON.stringify(r.details.forged_changes_by_kind)}, e.g. ${JSON.stringify(forgedEntries.slice(0, 2))}`);
      }
      if (validFailures.length > 0) fail(r, `${validFailures.length} valid callback(s) refused: ${validFailures.slice(0, 3).join('; ')}`);
      if (notApplied.length > 0) fail(r, `${notApplied.length} call(s) not where their valid callbacks put them: ${JSON.stringify(notApplied.slice(0, 2).map((l) => ({ id: l._id, status: l.status, timeline: l.timeline.map((e) => `${e.status}:${e.sequence_number}:${e.source}`) })))}`);
      if (networkErrors > 0) r.notes.push(`${networkErrors} request(s) ended in a network error (connection closed on an oversized body): ${JSON.stringify(Object.fromEntries(Object.entries(statusByKind).filter(([, v]) => Object.keys(v).some((k) => k.startsWith('network')))))}`);
      for (const crash of cluster.crashes()) fail(r, `service crashed: ${crash}`);
      r.notes.push(`${requests.length} requests (${valid.length} valid callbacks of ${targets.length} calls); statuses ${JSON.stringify(countOf(Object.values(statusByKind).flatMap((v) => Object.entries(v).flatMap(([k, n]) => Array<string>(n).fill(k)))))}; 5xx ${fivexx}`);
    } finally {
      await cluster.stop();
    }
    return r;
  },
};
