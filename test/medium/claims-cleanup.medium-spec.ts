import { BulkRequestRepository } from '../../src/schedule/bulk-request.repository';
import { ClaimsCleanupJob } from '../../src/schedule/dispatch/claims-cleanup.job';
import { IdempotencyKeyRepository } from '../../src/schedule/idempotency-key.repository';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { ScheduleEventRepository } from '../../src/schedule/schedule-event.repository';
import { CallReconcileJob } from '../../src/status-update/call-reconcile.job';
import { CallStatusReceiptRepository } from '../../src/status-update/call-status-receipt.repository';
import { ClaimTransition } from '../../src/schedule/occurrence-claim.transitions';
import { createMediumApp, MediumApp } from '../utils/medium-app';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

// Occurrence claims are written on every dial; the hourly cleanup keeps the collection to recent ones, and
// with it the schedule module's other records that only grow: Idempotency-Keys, bulk answers and history.
describe('claims and retention cleanup (real database)', () => {
  let t: MediumApp;
  beforeAll(async () => {
    t = await createMediumApp({ env: { CLAIM_RETENTION_DAYS: '7', IDEMPOTENCY_KEY_RETENTION_HOURS: '24', SCHEDULE_EVENT_RETENTION_DAYS: '90', CALLBACK_RECEIPT_RETENTION_DAYS: '7' } });
  });
  afterAll(() => t.close());

  it('deletes settled claims older than CLAIM_RETENTION_DAYS with their decisions, and send tickets and fences as old, and keeps in-flight and recent ones', async () => {
    const claims = t.get<OccurrenceClaimRepository>(OccurrenceClaimRepository);
    const now = new Date('2026-12-04T12:00:00Z');
    t.clock.set(now);
    const claim = async (scheduleId: string, at: Date, settled?: ClaimTransition): Promise<string> => {
      const result = await claims.claimOccurrence({ scheduleId, tenantId: 'alice', occurrenceAt: at, state: 'claimed', instance: 'test', now: at });
      if (!result.won) throw new Error(`claim of ${scheduleId} not won`);
      if (settled) {
        expect((await claims.decide(result.claim.id, 'dial', 'test', at)).decision).toBe('dial');
        expect(await claims.move(result.claim.id, settled, {}, at)).toBe(true);
      }
      return result.claim.id;
    };
    const old = new Date(now.getTime() - 8 * DAY_MS);
    const recent = new Date(now.getTime() - 6 * DAY_MS);
    const oldDialed = await claim('old-dialed', old, 'placed');
    await claim('old-missed', old, 'expired');
    // Still claimed after 8 days: the reconciler's to settle, never deleted here.
    await claim('old-stuck', old);
    const recentDialed = await claim('recent-dialed', recent, 'placed');
    // Send tickets and fences go by age alone: an old ticket of the stuck claim too, a recent one stays.
    const oldStuck = (await claims.findForSchedule('old-stuck', 5))[0].id;
    expect(await claims.takeSendTicket(oldDialed, 2, 'test', old)).toBe(true);
    expect(await claims.fenceSends(oldStuck, 'reconciler', old)).toEqual(old);
    expect(await claims.takeSendTicket(recentDialed, 2, 'test', recent)).toBe(true);

    expect(await t.get<ClaimsCleanupJob>(ClaimsCleanupJob).handle()).toEqual({ outcome: 'deleted=2 tickets=2 keys=0 bulk=0 events=0' });
    expect(await claims.fenceSends(oldStuck, 'reconciler', now)).toEqual(now);
    expect(await claims.takeSendTicket(recentDialed, 2, 'other', now)).toBe(false);
    expect(await claims.findForSchedule('old-dialed', 5)).toEqual([]);
    expect(await claims.findForSchedule('old-missed', 5)).toEqual([]);
    expect(await claims.decisionOf(oldDialed)).toBeNull();
    expect((await claims.findForSchedule('old-stuck', 5)).map((c) => c.state)).toEqual(['claimed']);
    expect((await claims.findForSchedule('recent-dialed', 5)).map((c) => c.state)).toEqual(['dialed']);
    expect((await claims.decisionOf(recentDialed))?.decision).toBe('dial');
    // A second pass finds nothing more.
    expect(await t.get<ClaimsCleanupJob>(ClaimsCleanupJob).handle()).toEqual({ outcome: 'deleted=0 tickets=0 keys=0 bulk=0 events=0' });
  });

  it('deletes Idempotency-Keys and bulk answers older than IDEMPOTENCY_KEY_RETENTION_HOURS and history older than SCHEDULE_EVENT_RETENTION_DAYS, and keeps newer ones', async () => {
    const now = new Date('2026-12-05T12:00:00Z');
    t.clock.set(now);
    const keys = t.get<IdempotencyKeyRepository>(IdempotencyKeyRepository);
    const bulk = t.get<BulkRequestRepository>(BulkRequestRepository);
    const events = t.get<ScheduleEventRepository>(ScheduleEventRepository);
    const reserve = (key: string, at: Date) => keys.reserveKey({ tenantId: 'alice', scope: 'schedule.create', key, requestHash: 'h', resourceId: `resource-${key}`, now: at });
    expect(await reserve('old-key', new Date(now.getTime() - 25 * HOUR_MS))).toEqual({ reserved: true });
    expect(await reserve('recent-key', new Date(now.getTime() - 23 * HOUR_MS))).toEqual({ reserved: true });
    const oldBulk = '64b000000000000000000001';
    const recentBulk = '64b000000000000000000002';
    await bulk.saveResults(oldBulk, 'alice', [], new Date(now.getTime() - 25 * HOUR_MS));
    await bulk.saveResults(recentBulk, 'alice', [], new Date(now.getTime() - 23 * HOUR_MS));
    const schedule = { id: 'retention-schedule', tenant_id: 'alice' };
    await events.appendFor(schedule, new Date(now.getTime() - 91 * DAY_MS), 'info', 'created', 'old', {});
    await events.appendFor(schedule, new Date(now.getTime() - 89 * DAY_MS), 'info', 'paused', 'recent', {});

    // (The first case's recent claim and ticket are old enough by now too.)
    expect((await t.get<ClaimsCleanupJob>(ClaimsCleanupJob).handle()).outcome).toMatch(/ keys=1 bulk=1 events=1$/);
    // The old key can be taken again; the recent one still names its first request's schedule.
    expect(await reserve('old-key', now)).toEqual({ reserved: true });
    expect(await reserve('recent-key', now)).toEqual({ reserved: false, requestHash: 'h', resourceId: 'resource-recent-key' });
    expect(await bulk.findResults(oldBulk, 'alice')).toBeNull();
    expect(await bulk.findResults(recentBulk, 'alice')).toEqual([]);
    expect((await events.latestFor(schedule.id, 10)).map((e) => e.type)).toEqual(['paused']);
  });

  it('deletes callback receipts older than CALLBACK_RECEIPT_RETENTION_DAYS from the reconcile pass, at most once an hour', async () => {
    const now = new Date('2026-12-06T12:00:00Z');
    t.clock.set(now);
    const receipts = t.get<CallStatusReceiptRepository>(CallStatusReceiptRepository);
    const reconcile = t.get<CallReconcileJob>(CallReconcileJob);
    expect(await receipts.recordFirstDelivery('CA-old', 'completed', new Date(now.getTime() - 8 * DAY_MS))).toBe(true);
    expect(await receipts.recordFirstDelivery('CA-recent', 'completed', new Date(now.getTime() - 6 * DAY_MS))).toBe(true);

    expect((await reconcile.handle()).outcome).toMatch(/ receipts_deleted=1$/);
    expect(await receipts.receivedAt('CA-old', 'completed')).toBeNull();
    expect(await receipts.receivedAt('CA-recent', 'completed')).toEqual(new Date(now.getTime() - 6 * DAY_MS));

    // Within the hour, the pass leaves receipts alone; a day on, the recent one is old enough too.
    t.clock.set(new Date(now.getTime() + HOUR_MS / 2));
    expect((await reconcile.handle()).outcome).not.toMatch(/receipts_deleted/);
    t.clock.set(new Date(now.getTime() + DAY_MS + 60_000));
    expect((await reconcile.handle()).outcome).toMatch(/ receipts_deleted=1$/);
    expect(await receipts.receivedAt('CA-recent', 'completed')).toBeNull();
  });
});
