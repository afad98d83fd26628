import { ClaimsCleanupJob } from '../../src/schedule/dispatch/claims-cleanup.job';
import { OccurrenceClaimRepository } from '../../src/schedule/occurrence-claim.repository';
import { ClaimTransition } from '../../src/schedule/occurrence-claim.transitions';
import { createMediumApp, MediumApp } from '../utils/medium-app';

const DAY_MS = 86_400_000;

// Occurrence claims are written on every dial; the hourly cleanup keeps the collection to recent ones.
describe('claims cleanup (real database)', () => {
  let t: MediumApp;
  beforeAll(async () => {
    t = await createMediumApp({ env: { CLAIM_RETENTION_DAYS: '7' } });
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

    expect(await t.get<ClaimsCleanupJob>(ClaimsCleanupJob).handle()).toEqual({ outcome: 'deleted=2 tickets=2' });
    expect(await claims.fenceSends(oldStuck, 'reconciler', now)).toEqual(now);
    expect(await claims.takeSendTicket(recentDialed, 2, 'other', now)).toBe(false);
    expect(await claims.findForSchedule('old-dialed', 5)).toEqual([]);
    expect(await claims.findForSchedule('old-missed', 5)).toEqual([]);
    expect(await claims.decisionOf(oldDialed)).toBeNull();
    expect((await claims.findForSchedule('old-stuck', 5)).map((c) => c.state)).toEqual(['claimed']);
    expect((await claims.findForSchedule('recent-dialed', 5)).map((c) => c.state)).toEqual(['dialed']);
    expect((await claims.decisionOf(recentDialed))?.decision).toBe('dial');
    // A second pass finds nothing more.
    expect(await t.get<ClaimsCleanupJob>(ClaimsCleanupJob).handle()).toEqual({ outcome: 'deleted=0 tickets=0' });
  });
});
