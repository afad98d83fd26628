import { MongooseModule } from '@nestjs/mongoose';
import { CallLeaseRepository } from '../../src/calls/pacing/call-lease.repository';
import { DialSlotRepository } from '../../src/calls/pacing/dial-slot.repository';
import { CallLeaseDoc, CallLeaseSchema } from '../../src/calls/schemas/call-lease.schema';
import { DialSlotDoc, DialSlotSchema } from '../../src/calls/schemas/dial-slot.schema';
import { createMediumModule, MediumModule } from '../utils/medium-app';

// The two cluster-wide primitives of pacing, against the real database: a unique insert decides.
describe('pacing slots and concurrency seats (repository, real database)', () => {
  let t: MediumModule;
  beforeAll(async () => {
    // The two repositories and their collections (as CallsModule registers them), nothing else.
    t = await createMediumModule({
      imports: [
        MongooseModule.forFeature([
          { name: DialSlotDoc.name, schema: DialSlotSchema },
          { name: CallLeaseDoc.name, schema: CallLeaseSchema },
        ]),
      ],
      providers: [DialSlotRepository, CallLeaseRepository],
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('gives each slot to exactly one of many concurrent reservations', async () => {
    const slots = t.get<DialSlotRepository>(DialSlotRepository);
    const at = new Date();
    const one = (slot: number) => [{ slot, at }];
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => slots.reserveSlots('acct-a', one(42), `holder-${i}`)));
    expect(results.filter((won) => won.has(42))).toHaveLength(1);
    expect(await slots.reserveSlots('acct-b', one(42), 'other-key')).toEqual(new Set([42]));
    const later = new Date(at.getTime() + 500);
    await slots.reserveSlots('acct-a', [{ slot: 45, at: later }], 'h');
    expect(await slots.latestSlotTime('acct-a')).toEqual(later);
    expect(await slots.pruneBefore(new Date(at.getTime() + 1))).toBe(2);
    expect(await slots.pruneBefore(new Date(later.getTime() + 1))).toBe(1);
  });

  it('splits overlapping batches of slots among concurrent reservations, each slot to exactly one', async () => {
    const slots = t.get<DialSlotRepository>(DialSlotRepository);
    const at = new Date();
    // Ten instances each ask for a run of 20 slots, starting at 100, 102, ..., 118 (slot n starts at n ms on).
    const startOf = (n: number) => new Date(at.getTime() + n);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => slots.reserveSlots('acct-c', Array.from({ length: 20 }, (_, k) => ({ slot: 100 + 2 * i + k, at: startOf(100 + 2 * i + k) })), `holder-${i}`)),
    );
    const all = results.flatMap((won) => [...won]);
    expect(all).toHaveLength(new Set(all).size);
    expect(new Set(all)).toEqual(new Set(Array.from({ length: 38 }, (_, k) => 100 + k)));
    expect(await slots.latestSlotTime('acct-c')).toEqual(startOf(137));
  });

  it('holds at most N seats, frees one on release, and reclaims an expired one', async () => {
    const seats = t.get<CallLeaseRepository>(CallLeaseRepository);
    const now = new Date();
    const later = new Date(now.getTime() + 60_000);
    const taken = await Promise.all(['log-1', 'log-2', 'log-3', 'log-4'].map((id) => seats.takeSeat('acct-s', 2, id, now, later)));
    expect(taken.filter(Boolean)).toHaveLength(2);
    const holder = ['log-1', 'log-2', 'log-3', 'log-4'][taken.indexOf(true)];
    expect(await seats.takeSeat('acct-s', 2, 'log-5', now, later)).toBe(false);
    expect(await seats.releaseFor(holder)).toBe(1);
    expect(await seats.takeSeat('acct-s', 2, 'log-5', now, later)).toBe(true);
    // Both seats are held; once they expire (a final status that never came) they can be taken again.
    expect(await seats.takeSeat('acct-s', 2, 'log-6', new Date(later.getTime() + 1), new Date(later.getTime() + 60_000))).toBe(true);
  });
});
