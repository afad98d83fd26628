import mongoose, { Connection, Model, Schema } from 'mongoose';
import { CoalescedInserts, insertEach } from '../../src/common/mongo/coalesced-inserts';
import { op } from '../../src/common/mongo/mongo-query';
import { WriteGate, WriteGateDoc, WriteGateSchema } from '../../src/common/mongo/write-gate';
import { testDatabaseUri } from '../utils/test-config';

interface Counter {
  _id: string;
  n: number;
  log: string[];
  rev?: number;
  at?: Date;
}

// The primitive every shared document's writes go through, against the real database: no lost update
// among 20 contenders, a dead winner's change finished by a waiter, and old gates pruned.
describe('WriteGate (real database)', () => {
  let connection: Connection;
  let counters: Model<Counter>;
  let gates: Model<WriteGateDoc>;
  // WriteGate prunes in the background (fire and forget). Rather than polling the collection on the wall
  // clock, a test awaits the first prune that starts after it asked (hooks on the gates' deleteMany).
  type PruneWaiter = { resolve: () => void; reject: (error: Error) => void };
  let waiting: PruneWaiter[] = [];
  const started = new WeakMap<object, PruneWaiter[]>();
  const nextPrune = () => new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));

  beforeAll(async () => {
    connection = await mongoose.createConnection(testDatabaseUri(), { monitorCommands: true }).asPromise();
    counters = connection.model<Counter>('Counter', new Schema<Counter>({ _id: String, n: Number, log: [String], rev: Number, at: Date }, { versionKey: false }), 'counters');
    const gateSchema = WriteGateSchema.clone();
    gateSchema.pre('deleteMany', function () {
      started.set(this, waiting);
      waiting = [];
    });
    gateSchema.post('deleteMany', function () {
      for (const w of started.get(this) ?? []) w.resolve();
    });
    gateSchema.post('deleteMany', function (error: Error, _res: unknown, next: (error?: Error) => void) {
      for (const w of started.get(this) ?? []) w.reject(error);
      next(error);
    });
    gates = connection.model<WriteGateDoc>('CounterGate', gateSchema, 'counter_write_gates');
    await gates.syncIndexes();
  });
  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it('applies 20 concurrent read-modify-writes of one document, each on the state the previous one left', async () => {
    await counters.create({ _id: 'c1', n: 0, log: [] });
    const gate = new WriteGate<Counter>(counters, gates);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => gate.update('c1', (doc) => ({ n: doc.n + 1, log: [...doc.log, `w${i}`] }))),
    );
    expect(results.every((r) => r?.changed)).toBe(true);
    const doc = await counters.findById('c1').lean<Counter>();
    expect(doc).toMatchObject({ n: 20, rev: 20 });
    expect([...doc!.log].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `w${i}`).sort());
  });

  it('refuses a change whose condition no longer holds on the fresh read', async () => {
    await counters.create({ _id: 'c2', n: 0, log: [] });
    const gate = new WriteGate<Counter>(counters, gates);
    // 20 contenders each move n from 0 to 1 only if it is still 0: exactly one may.
    const results = await Promise.all(Array.from({ length: 20 }, () => gate.update('c2', (doc) => (doc.n === 0 ? { n: 1, log: ['first'] } : null))));
    expect(results.filter((r) => r?.changed)).toHaveLength(1);
    expect(await counters.findById('c2').lean<Counter>()).toMatchObject({ n: 1, log: ['first'], rev: 1 });
  });

  it('tells its hooks of each revision: before the write (the document still at the old revision) and after it', async () => {
    await counters.create({ _id: 'h1', n: 0, log: [] });
    const told: string[] = [];
    const gate = new WriteGate<Counter>(counters, gates, undefined, {
      beforeWrite: async (before, after, rev) => {
        const seen = await counters.findById('h1').lean<Counter>();
        told.push(`before ${rev}: ${before.n}->${after.n}, stored rev ${seen?.rev ?? 0}`);
      },
      afterWrite: (after, rev) => told.push(`after ${rev}: ${after.n}`),
    });
    await gate.update('h1', (doc) => ({ n: doc.n + 1 }));
    await gate.update('h1', (doc) => ({ n: doc.n + 1 }));
    // A refused change and one that changes nothing make no revision.
    await gate.update('h1', () => null);
    await gate.update('h1', () => ({ n: 2 }));
    expect(told).toEqual(['before 1: 0->1, stored rev 0', 'after 1: 1', 'before 2: 1->2, stored rev 1', 'after 2: 2']);
  });

  it("tells its hooks of a dead winner's change when a waiter takes it over", async () => {
    await counters.create({ _id: 'h2', n: 5, log: [], rev: 3 });
    await gates.create({ _id: 'h2:3', set: { n: 50 }, at: new Date(Date.now() - 20_000) });
    const told: string[] = [];
    const gate = new WriteGate<Counter>(counters, gates, undefined, {
      beforeWrite: async (before, after, rev) => void told.push(`before ${rev}: ${before.n}->${after.n}`),
      afterWrite: (after, rev) => told.push(`after ${rev}: ${after.n}`),
    });
    await gate.update('h2', (doc) => ({ n: doc.n + 1 }));
    expect(told).toEqual(['before 4: 5->50', 'after 4: 50', 'before 5: 50->51', 'after 5: 51']);
    expect(await counters.findById('h2').lean<Counter>()).toMatchObject({ n: 51, rev: 5 });
  });

  it('finishes the change of a winner that died between its gate and its write', async () => {
    await counters.create({ _id: 'c3', n: 5, log: [], rev: 3 });
    // The gate of revision 3, won 20 s ago by a writer that never wrote revision 4.
    await gates.create({ _id: 'c3:3', set: { n: 50, log: ['from the dead writer'] }, at: new Date(Date.now() - 20_000) });
    const gate = new WriteGate<Counter>(counters, gates);
    const result = await gate.update('c3', (doc) => ({ n: doc.n + 1, log: [...doc.log, 'next'] }));
    expect(result?.changed).toBe(true);
    expect(await counters.findById('c3').lean<Counter>()).toMatchObject({ n: 51, log: ['from the dead writer', 'next'], rev: 5 });
  });

  describe('a collection stored with its nulls absent', () => {
    interface Note {
      _id: string;
      text: string | null;
      owner: string | null;
      rev?: number;
    }
    let notes: Model<Note>;
    beforeAll(() => {
      notes = connection.model<Note>('Note', new Schema<Note>({ _id: String, text: { type: String, default: null }, owner: { type: String, default: null }, rev: Number }, { versionKey: false }), 'notes');
    });

    it('inserts without the null fields, unsets a field set to null, and reads nulls where fields are absent', async () => {
      const inserted = await new CoalescedInserts(notes, { nullsAbsent: true }).insert<Note>({ _id: 'n1', text: 'hello', owner: null });
      expect(inserted).toEqual({ _id: 'n1', text: 'hello' });
      expect(await notes.collection.findOne({ _id: 'n1' as never })).toEqual({ _id: 'n1', text: 'hello' });

      const gate = new WriteGate<Note>(notes, gates, undefined, {}, { nullsAbsent: true });
      const seen: Array<Note> = [];
      const first = await gate.update('n1', (doc) => {
        seen.push({ ...doc });
        return { text: null, owner: 'ann' };
      });
      // The change saw the absent owner as null, and the document it returns reads null for the unset text.
      expect(seen[0]).toMatchObject({ text: 'hello', owner: null });
      expect(first).toMatchObject({ changed: true, doc: { text: null, owner: 'ann', rev: 1 } });
      expect(await notes.collection.findOne({ _id: 'n1' as never })).toEqual({ _id: 'n1', owner: 'ann', rev: 1 });

      // Setting an absent field to null changes nothing, so nothing is written.
      const again = await new WriteGate<Note>(notes, gates, undefined, {}, { nullsAbsent: true }).update('n1', () => ({ text: null }));
      expect(again?.changed).toBe(false);
      expect(await notes.collection.findOne({ _id: 'n1' as never })).toEqual({ _id: 'n1', owner: 'ann', rev: 1 });
      // The database's own null matching finds the absent field.
      expect(await notes.countDocuments({ _id: 'n1', text: null })).toBe(1);
    });

    it('finishes a dead winner\'s change that sets a field to null by unsetting it', async () => {
      await notes.collection.insertOne({ _id: 'n2' as never, text: 'draft', owner: 'bo', rev: 2 });
      await gates.create({ _id: 'n2:2', set: { text: null }, at: new Date(Date.now() - 20_000) });
      const gate = new WriteGate<Note>(notes, gates, undefined, {}, { nullsAbsent: true });
      const result = await gate.update('n2', (doc) => ({ owner: doc.text === null ? 'finished' : 'not finished' }));
      expect(result?.changed).toBe(true);
      expect(await notes.collection.findOne({ _id: 'n2' as never })).toEqual({ _id: 'n2', owner: 'finished', rev: 4 });
    });
  });

  it('prunes gates older than an hour and keeps recent ones', async () => {
    await counters.create({ _id: 'c4', n: 0, log: [] });
    await gates.create({ _id: 'old:0', set: null, at: new Date(Date.now() - 2 * 60 * 60 * 1000) });
    await gates.create({ _id: 'recent:0', set: null, at: new Date(Date.now() - 5 * 60 * 1000) });
    const pruned = nextPrune();
    await new WriteGate<Counter>(counters, gates).update('c4', (doc) => ({ n: doc.n + 1 }));
    await pruned;
    expect(await gates.countDocuments({ _id: 'old:0' })).toBe(0);
    expect(await gates.countDocuments({ _id: 'recent:0' })).toBe(1);
    expect(await gates.countDocuments({ _id: 'c4:0' })).toBe(1);
  });

  describe('starting from a remembered copy', () => {
    it('skips the read when the copy is current, and writes the next revision', async () => {
      await counters.create({ _id: 'r1', n: 1, log: [] });
      const gate = new WriteGate<Counter>(counters, gates);
      gate.remember((await counters.findById('r1').lean<Counter>())!);
      const reads = await countingFinds(() => gate.update('r1', (doc) => ({ n: doc.n + 1 })));
      expect(reads).toBe(0);
      expect(await counters.findById('r1').lean<Counter>()).toMatchObject({ n: 2, rev: 1 });
      // The write is remembered too: the next update reads nothing either.
      expect(await countingFinds(() => gate.update('r1', (doc) => ({ n: doc.n + 1 })))).toBe(0);
      expect(await counters.findById('r1').lean<Counter>()).toMatchObject({ n: 3, rev: 2 });
    });

    it('keeps its own newer write remembered when a read that started before it returns after it', async () => {
      await counters.create({ _id: 'r0', n: 1, log: [] });
      const gate = new WriteGate<Counter>(counters, gates);
      // A sweep's read of revision 0, still on its way while this process writes revision 1.
      const before = (await counters.findById('r0').lean<Counter>())!;
      await gate.update('r0', (doc) => ({ n: doc.n + 1 }));
      gate.remember(before);
      expect(gate.recall('r0')).toMatchObject({ n: 2, rev: 1 });
    });

    it('computes from the fresh document when another writer moved it since the copy', async () => {
      await counters.create({ _id: 'r2', n: 0, log: [] });
      const mine = new WriteGate<Counter>(counters, gates);
      const theirs = new WriteGate<Counter>(counters, gates);
      mine.remember((await counters.findById('r2').lean<Counter>())!);
      await theirs.update('r2', (doc) => ({ n: doc.n + 10, log: [...doc.log, 'theirs'] }));
      await mine.update('r2', (doc) => ({ n: doc.n + 1, log: [...doc.log, 'mine'] }));
      expect(await counters.findById('r2').lean<Counter>()).toMatchObject({ n: 11, log: ['theirs', 'mine'], rev: 2 });
    });

    it('never refuses a change, or finds nothing to do, on a stale copy alone', async () => {
      await counters.create({ _id: 'r3', n: 0, log: [] });
      const mine = new WriteGate<Counter>(counters, gates);
      const theirs = new WriteGate<Counter>(counters, gates);
      mine.remember((await counters.findById('r3').lean<Counter>())!);
      await theirs.update('r3', () => ({ n: 5 }));
      // On the stale copy (n 0) the condition fails; on the document (n 5) it holds.
      expect((await mine.update('r3', (doc) => (doc.n === 5 ? { log: ['seen 5'] } : null)))?.changed).toBe(true);
      mine.remember({ _id: 'r3', n: 7, log: ['seen 5'], rev: 1 });
      // The copy says n is already 7; the document says 5, so the write happens.
      expect((await mine.update('r3', () => ({ n: 7 })))?.changed).toBe(true);
      expect(await counters.findById('r3').lean<Counter>()).toMatchObject({ n: 7, log: ['seen 5'], rev: 3 });
    });

    it('reports a document deleted since the copy as gone', async () => {
      await counters.create({ _id: 'r4', n: 0, log: [] });
      const gate = new WriteGate<Counter>(counters, gates);
      gate.remember((await counters.findById('r4').lean<Counter>())!);
      await counters.deleteOne({ _id: 'r4' });
      expect(await gate.update('r4', (doc) => ({ n: doc.n + 1 }))).toBeNull();
      expect(await counters.countDocuments({ _id: 'r4' })).toBe(0);
    });
  });

  describe('many documents at once', () => {
    it('shares commands among concurrent updates, applies each once, and never asks the database for more than it can hold', async () => {
      const ids = Array.from({ length: 60 }, (_, i) => `m${i}`);
      await counters.insertMany(ids.map((_id) => ({ _id, n: 0, log: [] })));
      const gate = new WriteGate<Counter>(counters, gates);
      // Three writers per document, 180 updates in flight: a bulkWrite of more than 50 updates (or 64
      // single ones at once) left FerretDB's PostgreSQL handler waiting forever.
      const { commands, result } = await counting(['update', 'insert'], () =>
        Promise.all(ids.flatMap((id) => [1, 2, 3].map((w) => gate.update(id, (doc) => ({ n: doc.n + 1, log: [...doc.log, `w${w}`] }))))),
      );
      expect(result.every((r) => r?.changed)).toBe(true);
      const docs = await counters.find({ _id: { $in: ids } }).lean<Counter[]>();
      expect(docs).toHaveLength(60);
      for (const doc of docs) {
        expect(doc).toMatchObject({ n: 3, rev: 3 });
        expect([...doc.log].sort()).toEqual(['w1', 'w2', 'w3']);
      }
      // 180 gates and 180 writes, in fewer commands than one each. (On the PostgreSQL handler about a
      // tenth; on SQLite the writes that lost the database lock are sent again, and about half.)
      expect(commands.update).toBeLessThan(180);
      expect(commands.insert).toBeLessThan(180 / 2);
    });

    it('reports the deleted document of a batch gone and writes the others', async () => {
      await counters.insertMany(['d1', 'd2', 'd3'].map((_id) => ({ _id, n: 0, log: [] })));
      const gate = new WriteGate<Counter>(counters, gates);
      for (const doc of await counters.find({ _id: { $in: ['d1', 'd2', 'd3'] } }).lean<Counter[]>()) gate.remember(doc);
      await counters.deleteOne({ _id: 'd2' });
      const results = await Promise.all(['d1', 'd2', 'd3'].map((id) => gate.update(id, (doc) => ({ n: doc.n + 1 }))));
      expect(results.map((r) => r?.changed ?? null)).toEqual([true, null, true]);
      expect(await counters.find({ _id: { $in: ['d1', 'd3'] } }).sort({ _id: 1 }).lean<Counter[]>()).toMatchObject([{ n: 1, rev: 1 }, { n: 1, rev: 1 }]);
    });

    it('writes what updateOne would: values cast by the schema, nulls inside arrays of subdocuments kept', async () => {
      type Entry = { status: string; seq: number | null; at: Date };
      type Log = { _id: string; entries: Entry[]; rev?: number };
      const logs = connection.model<Log>('GateLog', new Schema<Log>({ _id: String, entries: [new Schema({ status: String, seq: Number, at: Date }, { _id: false })], rev: Number }, { versionKey: false }), 'gate_logs');
      const logGates = connection.model<WriteGateDoc>('GateLogGate', WriteGateSchema.clone(), 'gate_log_write_gates');
      await logs.create({ _id: 'l1', entries: [] });
      const gate = new WriteGate<Log>(logs, logGates);
      const at = '2026-12-04T10:00:00.000Z';
      await gate.update('l1', () => ({ entries: [{ status: 'queued', seq: null, at }] }));
      const stored = await logs.findById('l1').lean<Log>();
      expect(stored?.entries).toEqual([{ status: 'queued', seq: null, at: new Date(at) }]);
    });
  });

  describe('CoalescedInserts', () => {
    it('stores a burst in one insertMany and refuses each duplicate on its own, as a single insert would', async () => {
      await counters.create({ _id: 'i-dup', n: 0, log: [] });
      const inserts = new CoalescedInserts(counters);
      const ids = ['i-dup', ...Array.from({ length: 30 }, (_, i) => `i${i}`), 'i3'];
      const { commands, result } = await counting(['insert'], () =>
        Promise.all(ids.map((_id) => inserts.insert({ _id, n: 1, log: [] }).then(() => 'stored', (e: { code?: number }) => (e.code === 11000 ? 'duplicate' : 'failed')))),
      );
      expect(result[0]).toBe('duplicate');
      expect(result.slice(1, 31).every((r) => r === 'stored')).toBe(true);
      // The same key twice in one burst: one of the two is stored.
      expect([result[4], result[31]].sort()).toEqual(['duplicate', 'stored']);
      expect(commands.insert).toBeLessThanOrEqual(2);
      expect(await counters.countDocuments({ _id: { $in: ids } })).toBe(31);
      expect(await counters.findById('i-dup').lean<Counter>()).toMatchObject({ n: 0 });
    });

    it('after a command that failed as a whole, tells the documents it stored from duplicates', async () => {
      // FerretDB may store part of an insertMany before failing it as a whole: each document is then tried
      // alone, and one found stored under its own _id, identical, counts as stored.
      await counters.collection.insertOne({ _id: 'w1', n: 1, log: [] } as never);
      await counters.collection.insertOne({ _id: 'w2', n: 9, log: [] } as never);
      // A document the driver cannot serialize fails the whole command before anything is sent.
      const cyclic: Record<string, unknown> = { _id: 'w4', n: 1 };
      cyclic.self = cyclic;
      const out = await insertEach(counters.collection, [{ _id: 'w1', n: 1, log: [] }, { _id: 'w2', n: 1, log: [] }, { _id: 'w3', n: 1, log: [] }, cyclic]);
      expect(out[0]).toBeUndefined();
      expect((out[1] as { code?: number }).code).toBe(11000);
      expect(out[2]).toBeUndefined();
      expect(out[3]).toBeInstanceOf(Error);
      expect(await counters.find({ _id: { $in: ['w1', 'w2', 'w3', 'w4'] } }).sort({ _id: 1 }).lean<Counter[]>()).toEqual([
        { _id: 'w1', n: 1, log: [] },
        { _id: 'w2', n: 9, log: [] },
        { _id: 'w3', n: 1, log: [] },
      ]);
    });

    it('validates like Model.create before anything is sent', async () => {
      const inserts = new CoalescedInserts(counters);
      await expect(inserts.insert({ _id: 'bad', n: 'not a number', log: [] })).rejects.toThrow(/Cast to Number failed/);
      expect(await counters.countDocuments({ _id: 'bad' })).toBe(0);
    });
  });

  describe('one change for many documents (updateGrouped)', () => {
    // As the service's gated schemas: no `rev` path, and strictQuery on (DatabaseModule sets it for all),
    // which would drop `rev` from a filter that did not ask to keep it.
    let plain: Model<Counter>;
    beforeAll(() => {
      plain = connection.model<Counter>('PlainCounter', new Schema<Counter>({ _id: String, n: Number, log: [String], at: Date }, { versionKey: false, strictQuery: true }), 'counters');
    });

    // Statements of update commands on the counters collection (not its gates) that `work` sends.
    async function updateStatements<T>(work: () => Promise<T>): Promise<{ statements: number[]; filters: Array<Record<string, unknown>>; result: T }> {
      const statements: number[] = [];
      const filters: Array<Record<string, unknown>> = [];
      const client = connection.getClient();
      const onStart = (e: { commandName: string; command: Record<string, unknown> }) => {
        if (e.commandName !== 'update' || e.command.update !== 'counters') return;
        const updates = e.command.updates as Array<{ q: Record<string, unknown> }>;
        statements.push(updates.length);
        filters.push(...updates.map((u) => u.q));
      };
      client.on('commandStarted', onStart);
      try {
        return { statements, filters, result: await work() };
      } finally {
        client.off('commandStarted', onStart);
      }
    }

    async function remembered(gate: WriteGate<Counter>, ids: string[]): Promise<Counter[]> {
      return (await counters.find({ _id: { $in: ids } }).sort({ _id: 1 }).lean<Counter[]>()).map((doc) => gate.remember(doc));
    }

    it('writes the group with one statement, each document under its own gate, its stamp the earliest', async () => {
      const ids = Array.from({ length: 10 }, (_, i) => `g${String(i).padStart(2, '0')}`);
      await counters.insertMany(ids.map((_id) => ({ _id, n: 0, log: [] })));
      const gate = new WriteGate<Counter>(plain, gates);
      const copies = await remembered(gate, ids);
      const base = Date.now();
      const { statements, filters, result } = await updateStatements(() =>
        Promise.all(copies.map((copy, i) => gate.updateGrouped(copy, { key: 'first', where: { n: 0 }, set: { log: ['grouped'] }, stamp: { field: 'at', at: new Date(base + 10 - i) } }))),
      );
      expect(result.map((r) => r?.changed)).toEqual(ids.map(() => true));
      expect(statements).toEqual([1]);
      // The revision is part of the statement's filter, beside the ids and `where`.
      expect(filters[0]).toMatchObject({ n: 0, rev: { $in: [null, 0] }, _id: { $in: expect.arrayContaining(ids) } });
      const docs = await counters.collection.find({ _id: { $in: ids as never[] } }).toArray();
      for (const doc of docs) expect(doc).toMatchObject({ n: 0, log: ['grouped'], rev: 1, at: new Date(base + 1) });
      expect(await gates.countDocuments({ _id: { $in: ids.map((id) => `${id}:0`) } })).toBe(10);
      // Remembered as written: the next update starts from it without a read.
      expect(gate.recall(ids[0])).toMatchObject({ log: ['grouped'], rev: 1 });
    });

    it('leaves a member whose copy is stale to update(), and never writes over the newer revision', async () => {
      const ids = ['s1', 's2', 's3'];
      await counters.insertMany(ids.map((_id) => ({ _id, n: 0, log: [] })));
      const mine = new WriteGate<Counter>(plain, gates);
      const theirs = new WriteGate<Counter>(plain, gates);
      const copies = await remembered(mine, ids);
      await theirs.update('s2', (doc) => ({ n: doc.n + 5, log: [...doc.log, 'theirs'] }));
      const result = await Promise.all(copies.map((copy) => mine.updateGrouped(copy, { key: 'k', where: { n: 0 }, set: { log: ['grouped'] } })));
      expect(result.map((r) => r?.changed ?? null)).toEqual([true, null, true]);
      expect(await counters.find({ _id: { $in: ids } }).sort({ _id: 1 }).lean<Counter[]>()).toMatchObject([
        { n: 0, log: ['grouped'], rev: 1 },
        { n: 5, log: ['theirs'], rev: 1 },
        { n: 0, log: ['grouped'], rev: 1 },
      ]);
    });

    it('loses no update to writers of the same documents in another process', async () => {
      const ids = Array.from({ length: 12 }, (_, i) => `c${String(i).padStart(2, '0')}`);
      await counters.insertMany(ids.map((_id) => ({ _id, n: 0, log: [] })));
      const mine = new WriteGate<Counter>(plain, gates);
      const theirs = new WriteGate<Counter>(plain, gates);
      const copies = await remembered(mine, ids);
      // Whatever the group could not write (its gate lost), the caller writes through update(), as the
      // schedule repository does.
      const grouped = copies.map(async (copy) => {
        const res = await mine.updateGrouped(copy, { key: 'k', where: { n: 0 }, set: { log: [...copy.log, 'grouped'] } });
        return res ?? mine.update(copy._id, (doc) => ({ log: [...doc.log, 'grouped'] }));
      });
      const others = ids.map((id) => theirs.update(id, (doc) => ({ n: doc.n + 1 })));
      await Promise.all([...grouped, ...others]);
      for (const doc of await counters.find({ _id: { $in: ids } }).lean<Counter[]>()) expect(doc).toMatchObject({ n: 1, log: ['grouped'], rev: 2 });
    });

    it('writes a member the statement did not reach on its own, only while it still reads its revision', async () => {
      const ids = ['u1', 'u2', 'u3'];
      await counters.insertMany(ids.map((_id) => ({ _id, n: 0, log: [] })));
      const gate = new WriteGate<Counter>(plain, gates);
      const copies = await remembered(gate, ids);
      // `where` says n is 0, as the copies do; u2 is stored with n 3 (written behind the gate's back, to stand
      // for a hint that does not hold): the statement misses it, and its own conditional write does not.
      await counters.updateOne({ _id: 'u2' }, { $set: { n: 3 } });
      const { statements, filters, result } = await updateStatements(() => Promise.all(copies.map((copy) => gate.updateGrouped(copy, { key: 'k', where: { n: 0 }, set: { log: ['grouped'] } }))));
      expect(result.map((r) => r?.changed)).toEqual([true, true, true]);
      // The group's statement, then one per member, each only while the member still reads revision 0.
      expect(statements).toEqual([1, 1, 1, 1]);
      expect(filters.slice(1).sort((a, b) => String(a._id).localeCompare(String(b._id)))).toMatchObject(ids.map((_id) => ({ _id, rev: { $in: [null, 0] } })));
      expect(await counters.find({ _id: { $in: ids } }).sort({ _id: 1 }).lean<Counter[]>()).toMatchObject([
        { n: 0, log: ['grouped'], rev: 1 },
        { n: 3, log: ['grouped'], rev: 1 },
        { n: 0, log: ['grouped'], rev: 1 },
      ]);
    });

    it('sends nothing after a statement without an answer: its members fail to their callers', async () => {
      const ids = ['e1', 'e2'];
      await counters.insertMany(ids.map((_id) => ({ _id, n: 0, log: [] })));
      const gate = new WriteGate<Counter>(plain, gates);
      const copies = await remembered(gate, ids);
      // A pattern the server refuses stands for a statement whose answer never came.
      const where = { log: op({ $regex: '(' }) };
      const { statements, result } = await updateStatements(() => Promise.allSettled(copies.map((copy) => gate.updateGrouped(copy, { key: 'k', where, set: { log: ['grouped'] } }))));
      expect(result.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(statements).toEqual([1]);
      expect(await counters.find({ _id: { $in: ids } }).sort({ _id: 1 }).lean<Counter[]>()).toMatchObject([
        { n: 0, log: [] },
        { n: 0, log: [] },
      ]);
      expect((await counters.findById('e1').lean<Counter>())?.rev).toBeUndefined();
    });

    it('writes a change alone in its batch as update() would', async () => {
      await counters.create({ _id: 'a1', n: 0, log: [] });
      const gate = new WriteGate<Counter>(plain, gates);
      const [copy] = await remembered(gate, ['a1']);
      const { statements, result } = await updateStatements(() => gate.updateGrouped(copy, { key: 'k', where: { n: 0 }, set: { log: ['alone'] } }));
      expect(result?.changed).toBe(true);
      expect(statements).toEqual([1]);
      expect(await counters.findById('a1').lean<Counter>()).toMatchObject({ n: 0, log: ['alone'], rev: 1 });
      expect(await gates.countDocuments({ _id: 'a1:0' })).toBe(1);
    });
  });

  // How many commands of each name `work` sends to the counters collection or its gates.
  async function counting<T>(names: string[], work: () => Promise<T>): Promise<{ commands: Record<string, number>; result: T }> {
    const commands: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    const client = connection.getClient();
    const onStart = (e: { commandName: string; command: Record<string, unknown> }) => {
      const target = e.command[e.commandName];
      if (names.includes(e.commandName) && (target === 'counters' || target === 'counter_write_gates')) commands[e.commandName]++;
    };
    client.on('commandStarted', onStart);
    try {
      return { commands, result: await work() };
    } finally {
      client.off('commandStarted', onStart);
    }
  }

  // How many finds of the counters collection `work` sends.
  async function countingFinds(work: () => Promise<unknown>): Promise<number> {
    let finds = 0;
    const client = connection.getClient();
    const onStart = (e: { commandName: string; command: Record<string, unknown> }) => {
      if (e.commandName === 'find' && e.command.find === 'counters') finds++;
    };
    client.on('commandStarted', onStart);
    try {
      await work();
    } finally {
      client.off('commandStarted', onStart);
    }
    return finds;
  }
});
