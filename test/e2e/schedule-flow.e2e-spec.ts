import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { EventRelayRepository } from '../../src/notification/event-relay.repository';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

describe('schedule flow with the simulated provider (e2e)', () => {
  let t: TestApp;
  const auth = bearer(tokenFor('user-a'));

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('dispatches a one-time schedule at its due time and ends completed with its events', async () => {
    // Watched, not replaced: a call outside a campaign, with concurrency seats off, owes the durable
    // consumers nothing, so no relay entry is stored for any of its events.
    const held = jest.spyOn(t.get<EventRelayRepository>(EventRelayRepository), 'hold');
    const due = new Date(Date.now() + 1500);
    const created = await request(t.app.getHttpServer())
      .post('/schedule/')
      .set(auth)
      .send({ phone: '+1 415 555 2671', scheduled_time: due.toISOString(), description: 'Follow-up call' })
      .expect(200);
    expect(created.body).toMatchObject({ status: 'success', message: 'Call scheduled successfully', next_execution: due.toISOString() });
    const id = created.body.schedule_id as string;

    const done = await waitFor(async () => {
      const res = await request(t.app.getHttpServer()).get(`/schedule/${id}`).set(auth).expect(200);
      const types = new Set(res.body.schedule.events.map((e: { type: string }) => e.type));
      return res.body.schedule.status === 'completed' && types.has('dispatched') && types.has('call_final') ? res.body.schedule : null;
    }, 15_000);
    expect(done.phone).toBe('+14155552671');
    expect(done.last_call_status).toBe('completed');
    expect(done.occurrence_count).toBe(1);
    const types = (done.events as Array<{ type: string; data: Record<string, unknown> }>).map((e) => e.type);
    // Newest first, in the order it happened: the dispatched event carries the time the call was placed.
    expect(types.filter((t) => ['created', 'dispatched', 'call_final'].includes(t))).toEqual(['call_final', 'dispatched', 'created']);
    const dispatched = done.events.find((e: { type: string }) => e.type === 'dispatched');
    // Not before its due time; how soon after is the bench's fire-lag figure, not a timed test's.
    expect(dispatched.data.lag_ms).toBeGreaterThanOrEqual(0);
    expect(dispatched.data.occurrence_at).toBe(due.toISOString());
    // Its final event is stored (and any entry held) before its log is marked: once marked, nothing is left.
    const callLogs = t.get<Connection>(getConnectionToken()).collection('call_logs');
    await waitFor(async () => (await callLogs.findOne({ schedule_id: id }))?.outcome_recorded_at, 15_000);
    expect(held).not.toHaveBeenCalled();
    held.mockRestore();
  });
});
