import { Logger } from '@nestjs/common';
import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { isDeepStrictEqual } from 'node:util';
import { Model, Schema as MongooseSchema, Types } from 'mongoose';
import { ConcurrencyLimit } from '../concurrency-limit';
import { nullFiller, updateWithoutNulls } from './absent-nulls';
import { CoalescedInserts } from './coalesced-inserts';
import { Batcher, Settled } from './insert-batcher';
import { insertedUnlessDuplicate, op, retryOnLockContention } from './mongo-query';
import { perItemFailures } from './write-errors';

// A writer that won the gate of revision r but never wrote r+1 (its process died in between) is taken
// over after this long by a writer waiting on it: it applies the change recorded in the gate.
const TAKEOVER_AFTER_MS = 15_000;
const DEFAULT_TIMEOUT_MS = 45_000;
// Gates are kept this long, then pruned (at most every PRUNE_EVERY_MS per collection and process): a gate
// is only needed while a writer that read its revision may still try to insert it, which happens within
// one read and one change computation, far below an hour. Pruned, the gate collection stays small.
const KEEP_GATES_MS = 60 * 60 * 1000;
const PRUNE_EVERY_MS = 10 * 60 * 1000;
// Documents this process just read or wrote, by id: an update starts from the remembered copy instead of
// reading the document again (the dial path writes one claim, log and schedule several times in a row).
// Safe because winning the gate `<id>:<rev>` proves nobody moved the document past rev since that copy;
// a stale copy loses its gate insert (the gate of its revision exists: entries are far younger than
// KEEP_GATES_MS) and the update reads afresh. A copy never decides a refusal or a no-op on its own.
const REMEMBER_MS = 60_000;
const REMEMBER_MAX = 5000;
// FerretDB's PostgreSQL handler holds a pooled PostgreSQL connection for each update statement until its
// command ends, and needs another one to write: once its pool (50) is held that way, every update waits
// forever, and the whole server with it. Measured: one bulkWrite of 55 updates, or two of 30 at once,
// never return; one of 45, or two of 20, do; 64 dispatches in flight, each with its own updateOne, hung.
// So each process keeps at most this many gated update statements in flight, batched or not: three
// instances stay well below the pool whatever they do, and reads and inserts, which hold no connection
// while they wait for another, always get through.
const UPDATE_STATEMENTS_IN_FLIGHT = 12;
// FerretDB runs a bulkWrite's statements one after another, each a scan of its collection, while the
// server's cores sit partly idle: a collection's writes go out as up to two commands of six at once (the
// second only while a full batch waits), so that PostgreSQL scans side by side. A burst of 1,000 dials
// went from 79 to 96 dispatches/s, 10,000 from 24 to 35/s (decision 0026).
const STATEMENTS_PER_COMMAND = 6;
const COMMANDS_PER_COLLECTION = 2;
// The most documents one grouped statement writes (updateGrouped).
const GROUP_MAX = 500;

// A per-item result of Mongoose's bulkWrite: null (written), a cast error, or the driver's WriteError.
function asError(result: unknown): Error | undefined {
  if (!result) return undefined;
  if (result instanceof Error) return result;
  const w = result as { errmsg?: string; code?: number };
  return Object.assign(new Error(w.errmsg ?? 'write failed'), { code: w.code });
}

const logger = new Logger('WriteGate');

// Shared by every WriteGate of the process: one slot per update statement.
const updateSlots = new ConcurrencyLimit(UPDATE_STATEMENTS_IN_FLIGHT);

// One record per (document, revision): its _id is `<document id>:<revision>`, so the unique _id index
// lets exactly one writer move a document from revision r to r+1. `set` is that writer's change, kept so
// that a waiter can finish the write of a writer that died after winning.
@Schema({ versionKey: false })
export class WriteGateDoc {
  @Prop({ type: String, required: true }) _id: string;
  @Prop({ type: MongooseSchema.Types.Mixed, default: null }) set: Record<string, unknown> | null;
  @Prop({ required: true }) at: Date;
}
export const WriteGateSchema = SchemaFactory.createForClass(WriteGateDoc);

// A collection's gate collection, registered by the module that owns the collection.
export function writeGateFeature(name: string, collection: string) {
  return { name, schema: WriteGateSchema, collection };
}

export type GatedDoc = { _id: Types.ObjectId | string; rev?: number | null };

export interface WriteGateHooks<D> {
  // Told of each change after its gate is won and before the document is written, by the winner or by the
  // waiter that finishes a dead winner's write: so a record of the change that must not be lost (an outbox
  // entry) is stored before the change itself. It may be told twice of one revision (a winner that died
  // after telling it), so what it stores must be keyed by the revision.
  beforeWrite?: (before: D, after: D, rev: number) => Promise<void>;
  // Told once the document reads `rev`, in the process that wrote it (winner or takeover), for work that
  // must follow the change (publishing what beforeWrite stored). Its errors are the hook's own.
  afterWrite?: (after: D, rev: number) => void;
}
export interface WriteGateOptions {
  // The collection is stored with its nulls absent (absent-nulls.ts): writes unset null fields, and every
  // document the gate reads or is told of reads null where the schema has a field it lacks.
  nullsAbsent?: boolean;
}
export interface GatedWrite<D> {
  // The document as this write left it (or as it was, when the change changed nothing).
  doc: D;
  changed: boolean;
}

type GroupWritten = { set: Record<string, unknown>; exact: boolean } | null;

interface GroupMember {
  id: Types.ObjectId | string;
  rev: number;
  change: GroupedChange;
}

// One change that many documents make at once (a burst of one-time schedules due at the same instant
// moving to running): see WriteGate.updateGrouped.
export interface GroupedChange {
  // Changes with the same key carry the same `set` and `where`.
  key: string;
  // Equalities that the document holds at its copy's revision. FerretDB pushes them down, so the group's
  // one statement reads the documents that match them instead of the whole collection; on MongoDB the ids
  // are an index lookup.
  where: Record<string, unknown>;
  set: Record<string, unknown>;
  // A time the group writes once, as the earliest of its members' (no member's write then reads later
  // than its own).
  stamp?: { field: string; at: Date };
}

// Whether writing `set` would leave `doc` as it is (a missing field reads as null).
export function changesNothing(doc: Record<string, unknown>, set: Record<string, unknown>): boolean {
  return Object.entries(set).every(([k, v]) => isDeepStrictEqual(doc[k] ?? null, v ?? null));
}

export function withoutUndefined(set: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(set).filter(([, v]) => v !== undefined));
}

// A document never written through the gate has no rev: it reads as revision 0.
function revIs(rev: number): Record<string, unknown> {
  return { rev: rev === 0 ? op({ $in: [null, 0] }) : rev };
}

// `rev` is in no gated schema, and strictQuery (on for the whole service) would drop it from a filter.
const WITH_REV = { strict: false, strictQuery: false } as const;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms + Math.random() * ms));

// Conditional updates on FerretDB are not atomic: an update reads the document without a lock, applies
// its filter and operators in Go and overwrites the WHOLE document. Two concurrent updates of one
// document can therefore both pass their filter, and either can undo the other, whatever fields they set.
// The only atomic primitive is a unique insert, so every write of a gated document goes through here:
//   1. read the document at revision r and compute the change from it (null: its condition fails);
//   2. insert the gate (id, r): the one winner writes the change with rev r+1;
//   3. a loser waits until the document reads r+1, then starts again from the fresh document.
// So at most one update of a document is ever in flight, and each is computed from the document as the
// previous one left it: no lost update, no filter that held on a stale read. On MongoDB it costs one insert.
// Every writer of a gated collection must use it (a plain updateOne would race the gated ones).
// Gate timing uses the wall clock, not the injectable Clock: it measures real waiting.
export class WriteGate<D extends GatedDoc> {
  private lastPrune = 0;
  private readonly known = new Map<string, { doc: D; at: number }>();
  // Gates won and writes made meanwhile by other updates of this collection (other documents, or the
  // same one at other revisions) share one command each: a burst of dials moves many claims, logs and
  // schedules at once. Each gate is still its own unique key, won or lost on its own.
  private readonly gateInserts: CoalescedInserts<WriteGateDoc>;
  private readonly writes: Batcher<{ id: Types.ObjectId | string; set: Record<string, unknown> }, boolean>;
  private readonly grouped: Batcher<GroupMember, GroupWritten>;
  private readonly fill: (doc: D) => D;
  private readonly updateOf: (set: Record<string, unknown>) => Record<string, unknown>;

  constructor(
    private readonly target: Model<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
    private readonly gates: Model<WriteGateDoc>,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
    private readonly hooks: WriteGateHooks<D> = {},
    options: WriteGateOptions = {},
  ) {
    this.gateInserts = new CoalescedInserts(gates);
    this.writes = new Batcher((items) => this.writeEach(items), 0, STATEMENTS_PER_COMMAND, COMMANDS_PER_COLLECTION, { label: `update ${target.collection.collectionName}` });
    this.grouped = new Batcher((items) => this.writeGroups(items), 0, GROUP_MAX, 1, { label: `grouped update ${target.collection.collectionName}` });
    this.fill = options.nullsAbsent ? nullFiller<D>(target.schema) : (doc) => doc;
    this.updateOf = options.nullsAbsent ? updateWithoutNulls : (set) => ({ $set: set });
  }

  private async read(id: Types.ObjectId | string): Promise<D | null> {
    const doc = await this.target.findById(id).lean<D>();
    return doc ? this.fill(doc) : null;
  }

  // One unordered bulkWrite; per item, whether its document was there to write. Each item is a different
  // revision whose gate this process won, so no two of them undo each other. Mongoose casts each item as
  // updateOne would; one that fails its cast fails alone (throwOnValidationError reports it per item,
  // after the others are written).
  private async writeEach(items: Array<{ id: Types.ObjectId | string; set: Record<string, unknown> }>): Promise<Array<Settled<boolean>>> {
    const ops = items.map(({ id, set }) => ({ updateOne: { filter: { _id: id }, update: this.updateOf(set) } }));
    let failures: Array<unknown> = items.map(() => undefined);
    let allThere = false;
    try {
      const res = await updateSlots.run(() => this.target.bulkWrite(ops as never, { ordered: false, strict: false, throwOnValidationError: true }), items.length);
      allThere = res.matchedCount === items.length;
    } catch (error) {
      // With a cast failure among the items, Mongoose lists every item's result (on its own error, or on
      // the driver's as `mongoose.results`); the driver's writeErrors count only the items it was sent.
      const e = error as { results?: unknown[]; mongoose?: { results?: unknown[]; validationErrors?: unknown[] } };
      const results = e.mongoose?.results ?? e.results;
      const castFailed = (e.mongoose?.validationErrors?.length ?? 0) > 0;
      const each = Array.isArray(results) && results.length === items.length ? results.map(asError) : castFailed ? null : perItemFailures(error, items.length);
      if (!each) return items.map(() => ({ error }));
      failures = each;
    }
    // Some matched nothing: a document is deleted, never re-created, so whether it exists now tells.
    return Promise.all(
      items.map(async ({ id }, i): Promise<Settled<boolean>> => {
        if (failures[i]) return { error: failures[i] };
        if (allThere) return { value: true };
        try {
          return { value: (await this.target.exists({ _id: id })) !== null };
        } catch (error) {
          return { error };
        }
      }),
    );
  }

  // Records a copy of the document as just read or inserted, for the next update of it to start from.
  remember(doc: D): D {
    this.fill(doc);
    const id = String(doc._id);
    // A read that started before this process's own write can return after it (a sweep's read racing a
    // dispatch's advance): the newer revision stays remembered.
    const held = this.known.get(id);
    if (held && (held.doc.rev ?? 0) > (doc.rev ?? 0)) return doc;
    this.known.delete(id);
    this.known.set(id, { doc, at: Date.now() });
    if (this.known.size > REMEMBER_MAX) this.known.delete(this.known.keys().next().value as string);
    return doc;
  }

  private forget(id: Types.ObjectId | string): void {
    this.known.delete(String(id));
  }

  // The remembered copy (a fresh object), or null. Not proof of the document's state: see `remember`.
  recall(id: Types.ObjectId | string): D | null {
    const entry = this.known.get(String(id));
    if (!entry) return null;
    if (Date.now() - entry.at > REMEMBER_MS) {
      this.known.delete(String(id));
      return null;
    }
    return { ...entry.doc };
  }

  // `whenMissing`: what to do when the document is not there (never was, or was deleted before this write
  // landed) instead of returning null: a collection whose documents move elsewhere follows them there.
  async update(
    id: Types.ObjectId | string,
    change: (current: D) => Record<string, unknown> | null | Promise<Record<string, unknown> | null>,
    whenMissing?: () => Promise<GatedWrite<D> | null>,
  ): Promise<GatedWrite<D> | null> {
    const deadline = Date.now() + this.timeoutMs;
    let current = this.recall(id);
    let fresh = current === null;
    for (;;) {
      if (!current) {
        current = await this.read(id);
        fresh = true;
        if (!current) {
          this.forget(id);
          return whenMissing ? whenMissing() : null;
        }
      }
      const rev = current.rev ?? 0;
      const proposed = await change(current);
      const set = proposed ? withoutUndefined(proposed) : null;
      const record = current as unknown as Record<string, unknown>;
      // Nothing would change: this read is the document's state at revision r, so there is nothing to write.
      const noop = set !== null && changesNothing(record, set);
      if (!set || noop) {
        // Only a fresh read may refuse a change or find nothing to do.
        if (!fresh) {
          current = null;
          continue;
        }
        this.remember(current);
        return set ? { doc: current, changed: false } : null;
      }
      const key = `${String(id)}:${rev}`;
      if (await this.insertGate(key, set)) {
        if (this.hooks.beforeWrite) await this.hooks.beforeWrite(current, { ...current, ...set, rev: rev + 1 } as D, rev + 1);
        const there = await retryOnLockContention(() => this.writes.add({ id, set: { ...set, rev: rev + 1 } }));
        if (!there) {
          // Deleted since the remembered copy was taken.
          this.forget(id);
          return whenMissing ? whenMissing() : null;
        }
        this.pruneOldGates();
        const after = this.remember({ ...current, ...set, rev: rev + 1 } as D);
        this.tellWritten(after, rev + 1);
        return { doc: after, changed: true };
      }
      // A remembered copy that lost its gate is simply stale: read again at once.
      if (fresh) await this.waitPast(id, rev, key, deadline);
      current = null;
    }
  }

  // The same change for many documents at once, in one statement where update() sends one per document,
  // each of which scans its collection on FerretDB. `copy` is the document as this process remembers it
  // (recall), and `change` is computed from it. Its gate is won as in update(), so the write is just as
  // exclusive; the changes with the same key that won theirs meanwhile are then written by one updateMany
  // on their ids and revision (and `where`, for the stand-in), one alone in its group as update() writes it.
  // null: the gate is another writer's (or the copy stale): the caller goes on with update(), which reads
  // afresh and decides.
  async updateGrouped(copy: D, change: GroupedChange): Promise<GatedWrite<D> | null> {
    const rev = copy.rev ?? 0;
    const own = withoutUndefined({ ...change.set, ...(change.stamp ? { [change.stamp.field]: change.stamp.at } : {}) });
    // The gate records the member's own stamp: a takeover of a member that never got written writes that.
    if (!(await this.insertGate(`${String(copy._id)}:${rev}`, own))) return null;
    if (this.hooks.beforeWrite) await this.hooks.beforeWrite(copy, { ...copy, ...own, rev: rev + 1 } as D, rev + 1);
    const written = await this.grouped.add({ id: copy._id, rev, change: { ...change, set: withoutUndefined(change.set) } });
    if (!written) {
      // Deleted since the copy was taken.
      this.forget(copy._id);
      return null;
    }
    this.pruneOldGates();
    const after = { ...copy, ...written.set, rev: rev + 1 } as D;
    // Written by a waiter's takeover (this member's own time, not the group's): not remembered as exact.
    if (written.exact) this.remember(after);
    else this.forget(copy._id);
    this.tellWritten(after, rev + 1);
    return { doc: after, changed: true };
  }

  // Per member, the set written (its group's stamp) and whether exactly that is stored, or null when its
  // document is gone.
  private async writeGroups(items: GroupMember[]): Promise<Array<Settled<GroupWritten>>> {
    const groups = new Map<string, number[]>();
    items.forEach(({ rev, change }, i) => {
      const key = `${rev}|${change.stamp?.field ?? ''}|${change.key}`;
      const members = groups.get(key);
      if (members) members.push(i);
      else groups.set(key, [i]);
    });
    const out: Array<Settled<GroupWritten>> = items.map(() => ({ value: null }));
    await Promise.all(
      [...groups.values()].map(async (members) => {
        const written = await this.writeGroup(members.map((i) => items[i]));
        members.forEach((i, j) => (out[i] = written[j]));
      }),
    );
    return out;
  }

  private async writeGroup(members: GroupMember[]): Promise<Array<Settled<GroupWritten>>> {
    const { rev, change } = members[0];
    const field = change.stamp?.field;
    const set = { ...change.set, ...(field ? { [field]: new Date(Math.min(...members.map((m) => m.change.stamp?.at.getTime() ?? Infinity))) } : {}) };
    const update = this.updateOf({ ...set, rev: rev + 1 });
    // A member alone writes as update() does.
    if (members.length === 1) {
      try {
        return [{ value: (await retryOnLockContention(() => this.writes.add({ id: members[0].id, set: { ...set, rev: rev + 1 } }))) ? { set, exact: true } : null }];
      } catch (error) {
        return [{ error }];
      }
    }
    const ids = members.map((m) => m.id);
    let matched: number;
    try {
      matched = (await updateSlots.run(() => retryOnLockContention(() => this.target.updateMany({ ...change.where, _id: op({ $in: ids }), ...revIs(rev) }, update, WITH_REV).exec()))).matchedCount;
    } catch (error) {
      // No answer: the statement may still be running on the server, and would then overwrite whatever a
      // write sent after it made. Nothing more is sent; each caller's retry reads afresh (update()), and a
      // gate the statement never wrote is taken over by a waiter, as with update().
      return ids.map(() => ({ error }));
    }
    if (matched === ids.length) return ids.map(() => ({ value: { set, exact: true } }));
    // The statement answered and missed some (a `where` that did not hold, or a member a waiter's takeover
    // wrote already): each is written alone, and only while it still reads rev, since one the statement did
    // reach may already have moved on under gate rev+1. Each such write is a scan on FerretDB; no caller's
    // `where` fails for a copy that won its gate, so this path is rare.
    return Promise.all(
      ids.map(async (id): Promise<Settled<GroupWritten>> => {
        try {
          const res = await updateSlots.run(() => retryOnLockContention(() => this.target.updateOne({ _id: id, ...revIs(rev) }, update, WITH_REV).exec()));
          if (res.matchedCount === 1) return { value: { set, exact: true } };
          // Not at rev: the statement wrote it, or a waiter's takeover of the same change did (its own
          // time), or it is gone.
          return { value: (await this.target.exists({ _id: id })) !== null ? { set, exact: false } : null };
        } catch (error) {
          return { error };
        }
      }),
    );
  }

  // The write is made: a failing hook is logged, never turned into the writer's error.
  private tellWritten(after: D, rev: number): void {
    try {
      this.hooks.afterWrite?.(after, rev);
    } catch (error) {
      logger.warn(`afterWrite of ${String(after._id)}:${rev} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private pruneOldGates(): void {
    const now = Date.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    void this.gates.deleteMany({ at: op({ $lt: new Date(now - KEEP_GATES_MS) }) }).exec().catch(() => undefined);
  }

  private async waitPast(id: Types.ObjectId | string, rev: number, key: string, deadline: number): Promise<void> {
    for (let delay = 5; ; delay = Math.min(delay * 2, 80)) {
      if (Date.now() > deadline) throw new Error(`write gate ${key}: the document did not move past revision ${rev} in time`);
      await pause(delay);
      const doc = await this.target.findById(id, { rev: 1 }).lean<{ rev?: number | null }>();
      if (!doc || (doc.rev ?? 0) > rev) return;
      const gate = await this.gates.findById(key).lean<WriteGateDoc>();
      if (!gate || Date.now() - new Date(gate.at).getTime() < TAKEOVER_AFTER_MS) continue;
      // The winner of revision r died before writing it: one waiter (a unique insert again) writes the
      // change it recorded. Only a winner whose single update took longer than the takeover delay could
      // still land after this, with the same content.
      // Told before the takeover is claimed: a hook that fails here leaves the takeover to the next waiter
      // instead of to nobody. Several waiters may tell it; what it stores is keyed by the revision.
      if (await this.takeOver(id, rev, key, gate)) return;
    }
  }

  // Writes the change a dead winner recorded in gate `key` (revision rev -> rev+1). True once the document
  // is past rev (by this takeover or another); false when another waiter holds the takeover.
  private async takeOver(id: Types.ObjectId | string, rev: number, key: string, gate: WriteGateDoc): Promise<boolean> {
    let before: D | null = null;
    if (this.hooks.beforeWrite || this.hooks.afterWrite) {
      before = await this.read(id);
      if (!before || (before.rev ?? 0) !== rev) return true;
      await this.hooks.beforeWrite?.(before, { ...before, ...(gate.set ?? {}), rev: rev + 1 } as D, rev + 1);
    }
    if (await insertedUnlessDuplicate(() => this.gates.create({ _id: `${key}:takeover`, set: null, at: new Date() }))) {
      await updateSlots.run(() => retryOnLockContention(() => this.target.updateOne({ _id: id }, this.updateOf({ ...(gate.set ?? {}), rev: rev + 1 }), { strict: false })));
      if (before) this.tellWritten({ ...before, ...(gate.set ?? {}), rev: rev + 1 } as D, rev + 1);
      return true;
    }
    return false;
  }

  private insertGate(key: string, set: Record<string, unknown>): Promise<boolean> {
    return retryOnLockContention(() => insertedUnlessDuplicate(() => this.gateInserts.insert({ _id: key, set, at: new Date() })));
  }

  // Wins the gate of revision `rev` with `set` recorded, and writes nothing: the document then stays at rev
  // for every writer (they wait on the gate) until the holder deletes it, or a waiter's takeover writes `set`
  // after TAKEOVER_AFTER_MS. null: won; otherwise the change recorded by whoever holds it.
  async hold(id: Types.ObjectId | string, rev: number, set: Record<string, unknown>): Promise<{ heldBy: Record<string, unknown> | null } | null> {
    const key = `${String(id)}:${rev}`;
    if (await this.insertGate(key, set)) return null;
    const gate = await this.gates.findById(key).lean<WriteGateDoc>();
    return { heldBy: gate?.set ?? null };
  }

  // The change the winner of revision `rev` recorded in its gate (the document's move to rev+1), or null.
  async recordedChange(id: Types.ObjectId | string, rev: number): Promise<Record<string, unknown> | null> {
    return (await this.gates.findById(`${String(id)}:${rev}`).lean<WriteGateDoc>())?.set ?? null;
  }

  // For a sweep that finishes changes nobody came back to: the change recorded in the gate of `rev` is
  // written if the document still reads rev and the gate is old enough for a takeover. `written`: the
  // document is past rev, gone, or no change of rev was ever recorded; `waiting`: not yet, ask again later.
  async finishIfStalled(id: Types.ObjectId | string, rev: number): Promise<'written' | 'finished' | 'waiting'> {
    const doc = await this.target.findById(id, { rev: 1 }).lean<{ rev?: number | null }>();
    if (!doc || (doc.rev ?? 0) > rev) return 'written';
    const key = `${String(id)}:${rev}`;
    const gate = await this.gates.findById(key).lean<WriteGateDoc>();
    if (!gate) return 'written';
    if (Date.now() - new Date(gate.at).getTime() < TAKEOVER_AFTER_MS) return 'waiting';
    return (await this.takeOver(id, rev, key, gate)) ? 'finished' : 'waiting';
  }
}
