import { getConnectionToken } from '@nestjs/mongoose';
import { Connection, Types } from 'mongoose';
import { CampaignOutcomeListener } from '../../src/campaign/campaign-outcome.listener';
import { CallLeaseRepository } from '../../src/calls/pacing/call-lease.repository';
import { CallSeatReleaser } from '../../src/calls/pacing/call-seat.releaser';
import { DomainEventPublisher } from '../../src/notification/domain-event.publisher';
import { CallChangedEvent, CallEventName } from '../../src/notification/domain-events';
import { EventRelay } from '../../src/notification/event-relay.service';
import { NotificationMaintenanceJob } from '../../src/notification/notification-maintenance.job';
import { createTestApp, TestApp } from '../utils/test-app';
import { waitFor } from '../utils/wait';

// The durable consumers of stored events (here the concurrency seat's release) run when the event is
// published, and again from the event's relay entry when the process stopped first or a consumer failed.
describe('the event relay runs durable consumers at least once per stored event (e2e)', () => {
  let t: TestApp;
  let db: Connection;
  let publisher: DomainEventPublisher;
  let leases: CallLeaseRepository;
  let maintenance: NotificationMaintenanceJob;
  let relay: EventRelay;
  const seatKey = 'relay-test-account';

  const callEvent = (type: CallEventName, logId: string) =>
    new CallChangedEvent(type, logId, null, 'tenant-relay', '+14155552671', type.slice(5), `CA${logId}`, 1, new Date().toISOString(), {});
  const seatHeld = async (logId: string) => (await db.collection('call_leases').countDocuments({ call_log_id: logId })) > 0;
  const entryOf = (storedId: string) => db.collection('notification_relay_pending').findOne({ _id: storedId as never });
  const storedIdOf = async (logId: string, type: string) => {
    const stored = await db.collection('notification_events').findOne({ type, 'data.call_log_id': logId });
    return stored!._id.toHexString() as string;
  };
  // A call in flight, holding a seat.
  const callWithSeat = async () => {
    const logId = new Types.ObjectId().toHexString();
    expect(await leases.takeSeat(seatKey, 50, logId, new Date(), new Date(Date.now() + 3_600_000))).toBe(true);
    return logId;
  };
  // The relay pass runs in the notification maintenance job.
  const relayPass = async () => /relayed=(\d+)/.exec((await maintenance.handle()).outcome)![1];
  const ageEntry = (storedId: string) => db.collection('notification_relay_pending').updateOne({ _id: storedId as never }, { $set: { at: new Date(Date.now() - 120_000) } });

  beforeAll(async () => {
    t = await createTestApp({ env: { SCHEDULER_ENABLED: 'false', MAX_CONCURRENT_CALLS: '5' } });
    db = t.get<Connection>(getConnectionToken());
    publisher = t.get<DomainEventPublisher>(DomainEventPublisher);
    leases = t.get<CallLeaseRepository>(CallLeaseRepository);
    maintenance = t.get<NotificationMaintenanceJob>(NotificationMaintenanceJob);
    relay = t.get<EventRelay>(EventRelay);
  });
  afterAll(() => t.close());

  it('a final call event stored and published: its seat is released and no entry stays', async () => {
    const logId = await callWithSeat();
    const event = callEvent('call.completed', logId);
    await publisher.storeOnce(event, `call_final|${logId}`);
    const storedId = await storedIdOf(logId, 'call.completed');
    expect(await entryOf(storedId)).toMatchObject({ type: 'call.completed', data: { call_log_id: logId } });
    publisher.publish(event);
    await waitFor(async () => !(await seatHeld(logId)) && !(await entryOf(storedId)), 10_000);
  });

  it('a final call event stored, and the process stopped before publishing it: the relay pass releases the seat once the entry is old', async () => {
    const logId = await callWithSeat();
    await publisher.storeOnce(callEvent('call.no_answer', logId), `call_final|${logId}`);
    const storedId = await storedIdOf(logId, 'call.no_answer');

    // Young: its process may be about to publish it.
    expect(await relayPass()).toBe('0');
    expect(await seatHeld(logId)).toBe(true);

    await ageEntry(storedId);
    expect(await relayPass()).toBe('1');
    expect(await seatHeld(logId)).toBe(false);
    expect(await entryOf(storedId)).toBeNull();
    expect(await relayPass()).toBe('0');
  });

  it('a consumer that fails keeps the entry, and the pass runs it again', async () => {
    const logId = await callWithSeat();
    const releaser = t.get<CallSeatReleaser>(CallSeatReleaser);
    const failing = jest.spyOn(releaser, 'handle').mockRejectedValueOnce(new Error('database unreachable'));
    let storedId: string;
    try {
      const event = callEvent('call.failed', logId);
      await publisher.storeOnce(event, `call_final|${logId}`);
      storedId = await storedIdOf(logId, 'call.failed');
      publisher.publish(event);
      await waitFor(async () => failing.mock.calls.length === 1, 10_000);
    } finally {
      failing.mockRestore();
    }
    // The failed run, over, released nothing and left its entry.
    await waitFor(async () => relay['inFlight'].size === 0, 10_000);
    expect(await seatHeld(logId)).toBe(true);
    expect(await entryOf(storedId)).not.toBeNull();

    await ageEntry(storedId);
    expect(await relayPass()).toBe('1');
    expect(await seatHeld(logId)).toBe(false);
    expect(await entryOf(storedId)).toBeNull();
  });

  it('an event no durable consumer wants stores no entry', async () => {
    const logId = new Types.ObjectId().toHexString();
    await publisher.storeOnce(callEvent('call.ringing', logId), `call_progress|${logId}|ringing`);
    const storedId = await storedIdOf(logId, 'call.ringing');
    expect(await entryOf(storedId)).toBeNull();
  });

  it("the pass backs off after a failed run, and gives an entry up after a few, so that it cannot hold the others' turn", async () => {
    const logId = await callWithSeat();
    await publisher.storeOnce(callEvent('call.busy', logId), `call_final|${logId}`);
    const storedId = await storedIdOf(logId, 'call.busy');
    await ageEntry(storedId);
    const releaser = t.get<CallSeatReleaser>(CallSeatReleaser);
    const failing = jest.spyOn(releaser, 'handle').mockRejectedValue(new Error('database unreachable'));
    try {
      expect(await relayPass()).toBe('0');
      const postponed = await entryOf(storedId);
      expect(postponed).toMatchObject({ attempts: 1 });
      expect(postponed!.next_at.getTime()).toBeGreaterThan(Date.now());
      // Waiting out its backoff: not run again yet.
      expect(await relayPass()).toBe('0');
      expect(failing).toHaveBeenCalledTimes(1);

      // Its last allowed attempt, due now, fails too: the entry is dropped.
      await db.collection('notification_relay_pending').updateOne({ _id: storedId as never }, { $set: { attempts: 7, next_at: new Date(Date.now() - 1000) } });
      expect(await relayPass()).toBe('0');
      expect(failing).toHaveBeenCalledTimes(2);
      expect(await entryOf(storedId)).toBeNull();
    } finally {
      failing.mockRestore();
    }
  });

  it("the campaign consumer wants a call's ending only when its log does not say the call is no campaign's", () => {
    const campaigns = t.get<CampaignOutcomeListener>(CampaignOutcomeListener);
    const ending = (forCampaign: boolean | null) =>
      new CallChangedEvent('call.completed', new Types.ObjectId().toHexString(), new Types.ObjectId().toHexString(), 'tenant-relay', '+14155552671', 'completed', 'CA1', 1, new Date().toISOString(), {}, forCampaign);
    expect(campaigns.wants(ending(false))).toBe(false);
    expect(campaigns.wants(ending(true))).toBe(true);
    // A log stored before logs said so: looked up.
    expect(campaigns.wants(ending(null))).toBe(true);
  });
});
