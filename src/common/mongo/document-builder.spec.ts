import mongoose, { Schema, Types } from 'mongoose';
import { AuditEntrySchema } from '../../audit/schemas/audit-entry.schema';
import { CallLeaseSchema } from '../../calls/schemas/call-lease.schema';
import { ClaimDecisionSchema } from '../../schedule/schemas/claim-decision.schema';
import { CallScheduleSchema } from '../../schedule/schemas/call-schedule.schema';
import { IdempotencyKeySchema } from '../../schedule/schemas/idempotency-key.schema';
import { OccurrenceClaimSchema } from '../../schedule/schemas/occurrence-claim.schema';
import { ScheduleEventSchema } from '../../schedule/schemas/schedule-event.schema';
import { CallStatusReceiptSchema } from '../../status-update/schemas/call-status-receipt.schema';
import { CallLogSchema } from '../../tracking/schemas/call-log.schema';
import { compileDocumentBuilder } from './document-builder';
import { WriteGateSchema } from './write-gate';

// What CoalescedInserts stored before the builder: mongoose's document, validated, as toBSON gives it.
async function viaMongoose(schema: Schema, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
  const model = mongoose.models[`Builder_${schemaName(schema)}`] ?? mongoose.model(`Builder_${schemaName(schema)}`, schema);
  const doc = new model(fields);
  await doc.validate();
  return doc.toBSON() as Record<string, unknown>;
}

const names = new Map<Schema, string>();
function schemaName(schema: Schema): string {
  if (!names.has(schema)) names.set(schema, String(names.size));
  return names.get(schema)!;
}

function built(schema: Schema, fields: Record<string, unknown>): Record<string, unknown> | undefined {
  const build = compileDocumentBuilder(schema);
  if (!build) throw new Error('schema not supported by the builder');
  return build(fields);
}

// Both ways, with the generated _id carried over (an auto _id is random either way).
async function expectSameAsMongoose(schema: Schema, fields: Record<string, unknown>): Promise<void> {
  const fast = built(schema, fields);
  expect(fast).toBeDefined();
  const slow = await viaMongoose(schema, { ...fields, _id: fields._id ?? fast!._id });
  expect(fast).toEqual(slow);
  expect(Object.keys(fast!).sort()).toEqual(Object.keys(slow).sort());
}

const at = new Date('2026-12-05T10:00:00.000Z');

describe('compileDocumentBuilder: the stored form of a new document, as mongoose builds it', () => {
  const hotPath: Array<[string, Schema, Record<string, unknown>]> = [
    [
      'a schedule (one-time, defaults left out)',
      CallScheduleSchema,
      { tenant_id: 't1', created_by: 'u1', phone: '+14155552671', scheduled_time: at, timezone: 'Europe/Paris', status: 'scheduled', next_execution: at, created_at: at, last_updated: at, metadata: { a: { b: [1, 'x', at] } }, deleted_at: null },
    ],
    [
      'a schedule (recurring)',
      CallScheduleSchema,
      {
        _id: new Types.ObjectId(),
        tenant_id: 't1',
        created_by: 'u1',
        phone: '+14155552671',
        scheduled_time: at,
        timezone: 'UTC',
        status: 'scheduled',
        repeat_config: { enabled: true, frequency: 'weekly', interval: 1, days_of_week: [1, 3], compiled_cron: '0 10 * * 1,3', anchor: at },
        retry_policy: { max_attempts: 2, delay_seconds: 60, retry_on: ['busy'] },
        calling_window: { start: '09:00', end: '20:00', days: [1, 2, 3, 4, 5] },
        provider_options: {},
        misfire_policy: 'run_once',
        version: 3,
        created_at: at,
        last_updated: at,
      },
    ],
    [
      'a call log',
      CallLogSchema,
      {
        _id: new Types.ObjectId(),
        tenant_id: 't1',
        created_by: 'u1',
        schedule_id: 'abc',
        occurrence_at: at,
        status: 'queued',
        phone: '+14155552671',
        timestamp: at,
        notes: null,
        metadata: {},
        attempt_number: 2,
        in_stats: true,
        hour: at,
        timeline: [{ status: 'queued', ts: at, received_at: at, sequence_number: null, source: 'dispatcher', provider_status: null }],
        last_updated: at,
      },
    ],
    ['a call log with its timeline and metadata left to their defaults', CallLogSchema, { tenant_id: 't1', created_by: 'u1', status: 'queued', phone: '+14155552671', timestamp: at, last_updated: at }],
    [
      'an occurrence claim',
      OccurrenceClaimSchema,
      { schedule_id: 's1', tenant_id: 't1', occurrence_at: at, attempt_number: 1, deferral: 0, state: 'claimed', claimed_by: 'h:1', claimed_at: at, run_id: 'r', detail: null, call_log_id: 'l1', updated_at: at },
    ],
    [
      'an occurrence claim with fields left undefined (their defaults apply)',
      OccurrenceClaimSchema,
      { schedule_id: 's1', tenant_id: 't1', occurrence_at: at, attempt_number: undefined, state: 'missed', claimed_by: 'h:1', claimed_at: at, detail: undefined, call_log_id: undefined, updated_at: at },
    ],
    ['a claim decision', ClaimDecisionSchema, { _id: 'c1:outcome', decision: 'outcome', decided_by: 'h:1', decided_at: at }],
    ['a schedule event', ScheduleEventSchema, { schedule_id: 's1', tenant_id: 't1', ts: at, level: 'info', type: 'dispatched', message: 'Call placed', data: { lag_ms: 12, nested: {} } }],
    ['a write gate', WriteGateSchema, { _id: '65f0:3', set: { status: 'pending', next_execution: null, metadata: { keep: 1 } }, at }],
    ['a call lease', CallLeaseSchema, { _id: 'twilio:AC1:0', key: 'twilio:AC1', call_log_id: 'l1', acquired_at: at, expires_at: at }],
    ['a callback receipt', CallStatusReceiptSchema, { call_sid: 'CA1', dedupe_key: 'CA1:3', received_at: at }],
    ['an idempotency key', IdempotencyKeySchema, { tenant_id: 't1', key: 'k', scope: 'schedule.create', request_hash: 'h', resource_id: 'r', created_at: at }],
    [
      'an audit entry',
      AuditEntrySchema,
      { at, actor: 'u1', tenant_id: 't1', action: 'schedule.create', method: 'POST', route: '/schedule/', target_id: null, request_id: 'req', token_fingerprint: 'fp', outcome: 'success', status_code: 201, error_code: null },
    ],
  ];

  it.each(hotPath)('builds %s exactly as mongoose does', async (_name, schema, fields) => {
    await expectSameAsMongoose(schema, fields);
  });

  it("minimizes as the schema says: a write gate's empty objects are dropped, a schedule's are kept", async () => {
    await expectSameAsMongoose(WriteGateSchema, { _id: 'g:0', set: { metadata: {}, a: { b: {} } }, at });
    expect(built(WriteGateSchema, { _id: 'g:0', set: { metadata: {} }, at })).toEqual({ _id: 'g:0', at });
    expect(built(CallScheduleSchema, { tenant_id: 't', created_by: 'u', phone: '+1', scheduled_time: at, timezone: 'UTC', status: 'scheduled', created_at: at, last_updated: at })).toMatchObject({ metadata: {}, provider_options: {} });
  });

  it('drops fields the schema does not name, as strict mode does', async () => {
    await expectSameAsMongoose(ClaimDecisionSchema, { _id: 'c2', decision: 'dial', decided_by: 'h', decided_at: at, extra: 'dropped' });
    expect(built(ClaimDecisionSchema, { _id: 'c2', decision: 'dial', decided_by: 'h', decided_at: at, extra: 'dropped' })).not.toHaveProperty('extra');
  });

  it('gives every document its own default objects and copies of mixed values', () => {
    const fields = { schedule_id: 's1', tenant_id: 't1', ts: at, level: 'info', type: 'x', message: 'm' };
    const a = built(ScheduleEventSchema, fields)!;
    const b = built(ScheduleEventSchema, fields)!;
    expect(a.data).toEqual({});
    expect(a.data).not.toBe(b.data);
    const data = { deep: { n: 1 } };
    const c = built(ScheduleEventSchema, { ...fields, data })!;
    data.deep.n = 2;
    expect(c.data).toEqual({ deep: { n: 1 } });
  });

  // Whatever it does not vouch for goes the mongoose way, which casts it or refuses it with its own error.
  it.each([
    ['a missing required field', { decided_by: 'h', decided_at: at }],
    ['an empty required string', { decision: 'dial', decided_by: '', decided_at: at }],
    ['a value outside the enum', { decision: 'maybe', decided_by: 'h', decided_at: at }],
    ['a string where a Date belongs', { decision: 'dial', decided_by: 'h', decided_at: at.toISOString() }],
    ['a number where a string belongs', { decision: 'dial', decided_by: 7, decided_at: at }],
  ])('leaves %s to mongoose', (_name, fields) => {
    expect(built(ClaimDecisionSchema, { _id: 'c3', ...fields })).toBeUndefined();
  });

  it('leaves a call log with a malformed timeline entry, or a schedule with a malformed repeat config, to mongoose', () => {
    const log = { tenant_id: 't', created_by: 'u', status: 'queued', phone: '+1', timestamp: at, last_updated: at };
    expect(built(CallLogSchema, { ...log, timeline: [{ status: 'queued', ts: 'soon', received_at: at, source: 'x' }] })).toBeUndefined();
    expect(built(CallLogSchema, { ...log, timeline: [{ status: 'queued', ts: at, received_at: at, source: 'x' }] })).toBeDefined();
    const schedule = { tenant_id: 't', created_by: 'u', phone: '+1', scheduled_time: at, timezone: 'UTC', status: 'scheduled', created_at: at, last_updated: at };
    expect(built(CallScheduleSchema, { ...schedule, repeat_config: { enabled: true, frequency: 'daily', interval: 1, compiled_cron: '0 9 * * *' } })).toBeUndefined();
    expect(built(CallScheduleSchema, { ...schedule, repeat_config: { enabled: true, frequency: 'weekly', interval: 1, days_of_week: [1, '3'], compiled_cron: 'c', anchor: at } })).toBeUndefined();
  });

  it('holds a number to its enum as a string', async () => {
    const schema = new Schema({ n: { type: Number, enum: [1, 2] } }, { versionKey: false });
    await expectSameAsMongoose(schema, { n: 2 });
    expect(built(schema, { n: 3 })).toBeUndefined();
  });

  it('does not take on a schema with features it does not reproduce', () => {
    expect(compileDocumentBuilder(new Schema({ name: String }))).toBeNull(); // version key
    expect(compileDocumentBuilder(new Schema({ name: { type: String, lowercase: true } }, { versionKey: false }))).toBeNull();
    expect(compileDocumentBuilder(new Schema({ n: { type: Number, min: 1 } }, { versionKey: false }))).toBeNull();
    expect(compileDocumentBuilder(new Schema({ a: { b: String } }, { versionKey: false }))).toBeNull();
    expect(compileDocumentBuilder(new Schema({ name: String }, { versionKey: false, timestamps: true }))).toBeNull();
  });
});
