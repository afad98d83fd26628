// A schedule's due time, coarsened to a slot: the number of DUE_SLOT_MS periods since the epoch. It is
// stored beside next_execution (call_schedules.due_slot, written with it in the same write), so that the
// sweeper finds what is due soon by equality on one or two slots. On MongoDB that is an index lookup; on
// FerretDB's PostgreSQL handler an equality is the only filter pushed down to PostgreSQL, where a range
// on next_execution made FerretDB read and decode every scheduled schedule (12 s at 100,000) on each poll.
// Ten minutes: the sweeper's window (a few minutes back, the lookahead forward) mostly falls in one slot.
export const DUE_SLOT_MS = 10 * 60_000;

export function dueSlotOf(at: Date | null | undefined): number | null {
  return at ? Math.floor(at.getTime() / DUE_SLOT_MS) : null;
}

// A schedule's fixed share of its due slot, from its id: stored at its insert (call_schedules.due_shard),
// so that the advances of schedules due at the same instant can be written together shard by shard, each
// statement reading only its shard's due schedules on FerretDB (ScheduleRepository.advanceWithOthers),
// and the sweeper dispatches a burst in shard order so that what is in flight at once shares a shard.
export const DUE_SHARDS = 64;

export function dueShardOf(id: string): number {
  return parseInt(id.slice(-2), 16) % DUE_SHARDS;
}

// A schedule write that moves next_execution moves its slot with it.
export function withDueSlot<T extends Record<string, unknown> | null>(change: T): T {
  // An undefined value is no write of the field (it is dropped before the update is sent).
  if (!change || change.next_execution === undefined) return change;
  return { ...change, due_slot: dueSlotOf(change.next_execution as Date | null) };
}
