import { getModelToken } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { CallTimelineEntry } from '../../src/tracking/call-log.types';
import { CallStatus } from '../../src/tracking/call-status';
import { CallLogDoc, PlacedCallDoc } from '../../src/tracking/schemas/call-log.schema';
import { createMediumApp, MediumApp } from '../utils/medium-app';
import { testConfig } from '../utils/test-config';

// A dial records the call a provider accepted by an insert (CallLogRepository.recordPlacedCall), not by an
// update of its log: the log takes it with its next write, and every read fills it in meanwhile. Two apps
// on one database stand for two instances: the one that dialed, and one that did not.
describe('placed calls recorded by insert (real database, two instances)', () => {
  let dialer: MediumApp;
  let other: MediumApp;
  let model: Model<CallLogDoc>;
  const tenant = 'placed-calls';

  beforeAll(async () => {
    const config = testConfig({ SCHEDULER_ENABLED: 'false' });
    dialer = await createMediumApp({ config });
    other = await createMediumApp({ config, clock: dialer.clock });
    model = dialer.get<Model<CallLogDoc>>(getModelToken(CallLogDoc.name));
  });
  afterAll(async () => {
    await other?.close();
    await dialer?.close();
  });

  const logsOf = (app: MediumApp) => app.get<CallLogRepository>(CallLogRepository);
  const newSid = () => `CA${new Types.ObjectId().toHexString()}00000000`;
  const stored = (id: string) => model.findById(id).lean<Record<string, unknown> & { timeline: CallTimelineEntry[] }>();
  const sources = (timeline: CallTimelineEntry[]) => timeline.map((e) => `${e.source}:${e.status}`);
  const report = (status: CallStatus, at: Date): CallTimelineEntry => ({ status, ts: at, received_at: at, sequence_number: null, source: 'twilio_callback', provider_status: status });

  async function newLog(at = new Date()) {
    const logs = logsOf(dialer);
    return logs.createForAttempt(
      logs.newId(),
      {
        tenant_id: tenant,
        created_by: tenant,
        user_profile_id: null,
        agent_instance_id: null,
        schedule_id: new Types.ObjectId().toHexString(),
        occurrence_at: at,
        status: 'queued',
        call_type: 'outbound',
        phone: '+14155552671',
        timestamp: at,
        notes: null,
        metadata: {},
        attempt_number: 1,
      },
      at,
    );
  }

  it('leaves the log document unwritten, and both instances read the log with its call', async () => {
    const log = await newLog();
    const before = await stored(log.id);
    const sid = newSid();
    const placedAt = new Date(Date.now() - 1000);
    await logsOf(dialer).recordPlacedCall(log.id, 'twilio', sid, placedAt);
    // Repeatable: a retry after a lost answer records nothing more, and changes nothing.
    await logsOf(dialer).recordPlacedCall(log.id, 'twilio', sid, new Date());
    const records = dialer.get<Model<PlacedCallDoc>>(getModelToken(PlacedCallDoc.name));
    expect(await records.findById(log.id).lean()).toMatchObject({ call_id: sid, provider: 'twilio', at: placedAt });

    const after = await stored(log.id);
    expect(after).toEqual(before);
    expect(after?.call_id).toBeUndefined();

    for (const app of [dialer, other]) {
      const read = await logsOf(app).findById(log.id);
      expect(read).toMatchObject({ call_id: sid, provider: 'twilio', status: 'queued' });
      expect(sources(read!.timeline)).toEqual(['dispatcher:queued', 'provider_accepted:queued']);
      expect((await logsOf(app).findByCallId(sid))?.id).toBe(log.id);
      expect(await logsOf(app).belongsToAnotherLog(sid, log.id)).toBe(false);
      expect(await logsOf(app).belongsToAnotherLog(sid, new Types.ObjectId().toHexString())).toBe(true);
      const listed = await logsOf(app).listForTenant({ tenantId: tenant, isAdmin: false }, {}, 100, 0);
      expect(listed.items.find((l) => l.id === log.id)).toMatchObject({ call_id: sid, provider: 'twilio' });
    }
  });

  it("writes the call into the log with the log's next write, on an instance that did not dial it", async () => {
    const log = await newLog();
    const sid = newSid();
    await logsOf(dialer).recordPlacedCall(log.id, 'twilio', sid, new Date());
    expect(await logsOf(other).applyStatusEvent(log.id, report('ringing', new Date()), { call_id: sid }, new Date())).toBe(true);

    const after = await stored(log.id);
    expect(after).toMatchObject({ call_id: sid, provider: 'twilio', status: 'ringing' });
    expect(sources(after!.timeline)).toEqual(['dispatcher:queued', 'provider_accepted:queued', 'twilio_callback:ringing']);
  });

  it('gives a log the provider of a call whose first report came before its record, with the next write', async () => {
    const log = await newLog();
    const sid = newSid();
    await logsOf(other).applyStatusEvent(log.id, report('initiated', new Date()), { call_id: sid }, new Date());
    expect(await stored(log.id)).toMatchObject({ call_id: sid, status: 'initiated' });
    expect((await stored(log.id))?.provider).toBeUndefined();

    await logsOf(dialer).recordPlacedCall(log.id, 'twilio', sid, new Date());
    // Should its other reports be lost, call.reconcile (on the instance that did not dial: from the record)
    // still asks the provider about it.
    const stale = (await logsOf(other).findStaleInFlight(new Date(Date.now() + 60_000), 1000)).filter((l) => l.id === log.id);
    expect(stale).toEqual([expect.objectContaining({ call_id: sid, provider: 'twilio' })]);
    expect(await logsOf(other).findById(log.id)).toMatchObject({ call_id: sid, provider: 'twilio' });
    await logsOf(other).applyStatusEvent(log.id, report('completed', new Date()), { call_id: sid, duration: 12 }, new Date());

    const after = await stored(log.id);
    expect(after).toMatchObject({ call_id: sid, provider: 'twilio', status: 'completed' });
    expect(sources(after!.timeline)).toEqual(['dispatcher:queued', 'twilio_callback:initiated', 'provider_accepted:queued', 'twilio_callback:completed']);
  });

  it('hands call.reconcile an accepted call that no write has given its log, and not a call still waiting to be dialed', async () => {
    const placed = await newLog();
    const waiting = await newLog();
    const sid = newSid();
    await logsOf(dialer).recordPlacedCall(placed.id, 'twilio', sid, new Date());

    const stale = await logsOf(other).findStaleInFlight(new Date(Date.now() + 60_000), 1000);
    expect(stale.find((l) => l.id === placed.id)).toMatchObject({ call_id: sid, provider: 'twilio' });
    expect(stale.find((l) => l.id === waiting.id)).toBeUndefined();
  });

  it("counts an accepted call's staleness from its acceptance, not from its log's creation", async () => {
    // Created ten minutes ago (a long wait for a pacing slot), accepted now.
    const log = await newLog(new Date(Date.now() - 10 * 60_000));
    const sid = newSid();
    await logsOf(dialer).recordPlacedCall(log.id, 'twilio', sid, new Date());

    expect((await logsOf(other).findStaleInFlight(new Date(Date.now() - 5 * 60_000), 1000)).find((l) => l.id === log.id)).toBeUndefined();
    expect((await logsOf(other).findStaleInFlight(new Date(Date.now() + 60_000), 1000)).find((l) => l.id === log.id)).toMatchObject({ call_id: sid });
  });

  it('shows the call of a log that schedule.reconcile ended unknown before the dial recorded it', async () => {
    const log = await newLog();
    const sid = newSid();
    await logsOf(other).markAttemptEnded(log.id, 'unknown', { error_message: 'dispatcher stopped while claimed' }, new Date());
    await logsOf(dialer).recordPlacedCall(log.id, 'twilio', sid, new Date());

    const unknown = await logsOf(other).findUnknownWithoutOutcome(new Date(Date.now() + 60_000), 1000);
    expect(unknown.find((l) => l.id === log.id)).toMatchObject({ call_id: sid, provider: 'twilio' });
    expect(await logsOf(other).findById(log.id)).toMatchObject({ status: 'unknown', call_id: sid, provider: 'twilio' });
    // Its next write (the call's report) takes the call in.
    await logsOf(other).applyStatusEvent(log.id, report('completed', new Date()), { call_id: sid, duration: 3 }, new Date());
    expect(await stored(log.id)).toMatchObject({ status: 'completed', call_id: sid, provider: 'twilio' });
  });

  it('prunes records two days old, and keeps younger ones', async () => {
    const old = await newLog();
    const young = await newLog();
    const threeDaysAgo = new Date(Date.now() - 3 * 24 * 3_600_000);
    await logsOf(dialer).recordPlacedCall(old.id, 'twilio', newSid(), threeDaysAgo);
    await logsOf(dialer).recordPlacedCall(young.id, 'twilio', newSid(), new Date());
    await logsOf(other).prunePlacedCalls(new Date());

    const records = dialer.get<Model<PlacedCallDoc>>(getModelToken(PlacedCallDoc.name));
    expect(await records.exists({ _id: new Types.ObjectId(old.id) })).toBeNull();
    expect(await records.exists({ _id: new Types.ObjectId(young.id) })).not.toBeNull();
  });
});
