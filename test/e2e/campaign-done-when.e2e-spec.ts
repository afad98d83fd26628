import { getConnectionToken } from '@nestjs/mongoose';
import { DateTime } from 'luxon';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { DncRepository } from '../../src/dnc/dnc.repository';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

// Issue 7's "done when": a campaign of 1,000 contacts across several timezones runs to completion with
// the simulated provider; no dial falls outside any callee's window, none goes to a DNC number, and the
// counters add up to the contact count. Agenda runs on real time, so the window is built around now:
// some zones are inside it, the others must be deferred (not dialed) until the window is widened.
// npm test runs 48 contacts, 6 per zone; `npm run test:done-when` runs the full 1,000 (35 minutes on this
// 2-core machine: FerretDB reads whole collections for most filters, so each dial costs more as the campaign
// grows).

const COUNT = Number(process.env.DONE_WHEN_CONTACTS ?? 48);
const DNC_EVERY = 50;
const ZONES = ['Pacific/Honolulu', 'America/Los_Angeles', 'America/New_York', 'Europe/London', 'Europe/Berlin', 'Asia/Kolkata', 'Asia/Tokyo', 'Australia/Sydney'];
const MARGIN_MIN = 30;
const alice = bearer(tokenFor('alice'));

interface Window {
  days: number[];
  start: string;
  end: string;
  holidays: string[];
}

const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
const minuteOfDay = (at: Date, zone: string) => ((d) => d.hour * 60 + d.minute)(DateTime.fromJSDate(at, { zone }));
// The oracle, independent of the service's window code: open when the callee-local time is in [start, end).
const inWindow = (w: Window, at: Date, zone: string) => {
  const local = DateTime.fromJSDate(at, { zone });
  const m = local.hour * 60 + local.minute + local.second / 60;
  const [sh, sm] = w.start.split(':').map(Number);
  const [eh, em] = w.end.split(':').map(Number);
  return w.days.includes(local.weekday) && !w.holidays.includes(local.toISODate()!) && m >= sh * 60 + sm && m < eh * 60 + em;
};

// A 2-hour window around one zone's local time, chosen so that every zone is at least MARGIN_MIN
// minutes from either edge: zones inside stay inside, and zones outside stay outside, while the test runs.
function narrowWindowAroundNow(now: Date): { window: Window; inside: string[]; outside: string[] } {
  for (const ref of ZONES) {
    for (const before of [30, 45, 60, 90]) {
      const start = minuteOfDay(now, ref) - before;
      const end = start + 120;
      if (start < 0 || end > 24 * 60) continue;
      const window = { days: [1, 2, 3, 4, 5, 6, 7], start: hhmm(start), end: hhmm(end), holidays: [] };
      const ok = ZONES.every((zone) => {
        const m = minuteOfDay(now, zone);
        const distance = m >= start && m < end ? end - m : Math.min(Math.abs(m - start), Math.abs(m + 1440 - start), Math.abs(start + 1440 - m));
        return distance >= MARGIN_MIN && Math.abs(m - start) >= MARGIN_MIN;
      });
      const inside = ZONES.filter((zone) => inWindow(window, now, zone));
      if (ok && inside.length > 0 && inside.length < ZONES.length) return { window, inside, outside: ZONES.filter((z) => !inside.includes(z)) };
    }
  }
  throw new Error(`no window around ${now.toISOString()} separates the zones with a ${MARGIN_MIN}-minute margin`);
}

describe('done when: a 1,000-contact campaign across timezones runs to completion', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());
  const db = () => t.get<Connection>(getConnectionToken());

  beforeAll(async () => {
    // At 1,000 contacts, production polling: every sweep and Agenda poll scans a growing collection on
    // FerretDB, and the test settings' fast polls would starve the dials. At npm test's 48, fast polls.
    const large = COUNT > 200;
    t = await createTestApp({
      env: {
        CAMPAIGN_TICK_INTERVAL_MS: large ? '5000' : '1000',
        SCHEDULER_POLL_INTERVAL_MS: large ? '1000' : '250',
        SCHEDULER_JOB_POLL_INTERVAL_MS: large ? '5000' : '1000',
        STATUS_CALLBACK_CONCURRENCY: '2',
      },
    });
  });
  afterAll(() => t.close());

  it('never dials outside the callee window or a DNC number, and the counters add up', async () => {
    const started = new Date();
    const { window: narrow, inside, outside } = narrowWindowAroundNow(started);
    const contacts = Array.from({ length: COUNT }, (_, i) => ({ phone: `+1415${String(6_000_000 + i)}`, timezone: ZONES[i % ZONES.length], name: `Contact ${i}` }));
    const dnc = contacts.filter((_, i) => i % DNC_EVERY === 7).map((c) => c.phone);
    const zoneOf = new Map(contacts.map((c) => [c.phone, c.timezone]));
    for (const phone of dnc) {
      await t.get<DncRepository>(DncRepository).insertOne({ tenant_id: 'alice', phone, reason: 'opted out', source: 'api', created_by: 'alice', created_at: new Date() });
    }

    const id = (
      await http()
        .post('/campaigns')
        .set(alice)
        .send({ name: 'Done when', timezone: 'UTC', calling_window: narrow, max_attempts: 2, retry_delay: 0, max_concurrent_calls: 40, provider_options: { simulate_duration: 5 } })
        .expect(201)
    ).body.campaign.id;
    const imported = await http().post(`/campaigns/${id}/contacts`).set(alice).set('content-type', 'application/json').send(JSON.stringify(contacts)).expect(200);
    expect(imported.body).toMatchObject({ received: COUNT, accepted: COUNT, duplicate: 0, invalid: 0 });
    await http().post(`/campaigns/${id}/start`).set(alice).expect(200);

    const contactsIn = (zones: string[]) => contacts.filter((c) => zones.includes(c.timezone));
    const insideCount = contactsIn(inside).length;
    // DNC contacts are skipped at selection whatever their zone.
    const outsideDnc = contactsIn(outside).filter((c) => dnc.includes(c.phone)).length;
    const statusCounts = async () => (await http().get(`/campaigns/${id}`).set(alice).expect(200)).body.campaign;

    // Phase 1: the zones inside the window are worked through; the others are deferred, not dialed. A pass
    // may finish the inside zones before it has reached every outside contact, so both are waited for.
    const deferredCount = async () =>
      db().collection('campaign_contacts').countDocuments({ campaign_id: id, status: 'pending', last_outcome: 'deferred_calling_hours' });
    await waitFor(async () => {
      const c = await statusCounts();
      const settled = c.progress.completed + c.progress.skipped === insideCount + outsideDnc && c.progress.in_progress === 0;
      return settled && (await deferredCount()) === COUNT - insideCount - outsideDnc ? c : null;
    }, 15 * 60_000, COUNT > 200 ? 3000 : 500);
    const widenedAt = new Date();
    const phase1 = await db().collection('call_logs').find({ phone: { $in: contacts.map((c) => c.phone) } }).toArray();
    expect(phase1.length).toBe(insideCount - contactsIn(inside).filter((c) => dnc.includes(c.phone)).length);
    for (const log of phase1) {
      expect(inside).toContain(zoneOf.get(log.phone));
      expect(inWindow(narrow, log.timestamp, zoneOf.get(log.phone)!)).toBe(true);
    }
    const waiting = (await db().collection('campaign_contacts').find({ campaign_id: id, status: 'pending' }).toArray()) as unknown as Array<{ phone: string; next_attempt_at: Date; last_outcome: string | null }>;
    expect(waiting).toHaveLength(COUNT - insideCount - outsideDnc);
    for (const c of waiting) {
      expect(outside).toContain(zoneOf.get(c.phone));
      // Deferred to the zone's next opening, which is after now.
      expect(c.last_outcome).toBe('deferred_calling_hours');
      expect(c.next_attempt_at.getTime()).toBeGreaterThan(widenedAt.getTime());
    }

    // Phase 2: the window is widened to every hour; the rest are dialed and the campaign completes.
    const wide: Window = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [] };
    await http().patch(`/campaigns/${id}`).set(alice).send({ calling_window: wide }).expect(200);
    const done = await waitFor(async () => ((c) => (c.status === 'completed' ? c : null))(await statusCounts()), 45 * 60_000, COUNT > 200 ? 5000 : 500);

    const p = done.progress;
    expect(p.pending + p.not_reached + p.in_progress + p.completed + p.failed + p.skipped + p.exhausted).toBe(COUNT);
    expect(p).toMatchObject({ total: COUNT, completed: COUNT - dnc.length, skipped: dnc.length, in_progress: 0, pending: 0 });

    const logs = await db().collection('call_logs').find({ phone: { $in: contacts.map((c) => c.phone) } }).toArray();
    expect(logs).toHaveLength(COUNT - dnc.length);
    expect(new Set(logs.map((l) => l.phone)).size).toBe(COUNT - dnc.length);
    for (const log of logs) {
      expect(dnc).not.toContain(log.phone);
      const window = log.timestamp.getTime() < widenedAt.getTime() ? narrow : wide;
      expect(inWindow(window, log.timestamp, zoneOf.get(log.phone)!)).toBe(true);
    }
    const skipped = (await db().collection('campaign_contacts').find({ campaign_id: id, status: 'skipped' }).toArray()).map((c) => c.phone).sort();
    expect(skipped).toEqual([...dnc].sort());
    console.log(`done-when: ${COUNT} contacts, ${inside.length}/${ZONES.length} zones inside ${narrow.start}-${narrow.end} at ${started.toISOString()}; phase 1 ${phase1.length} dials by ${widenedAt.toISOString()}; completed ${p.completed}, skipped ${p.skipped} in ${Math.round((Date.now() - started.getTime()) / 1000)} s`);
  }, 65 * 60_000);
});
