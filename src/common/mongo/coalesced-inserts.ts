import { BSON } from 'mongodb';
import { Collection, Model } from 'mongoose';
import { withoutNulls } from './absent-nulls';
import { compileDocumentBuilder, DocumentBuilder } from './document-builder';
import { Batcher, InsertBatcher } from './insert-batcher';
import { isDuplicateKeyError, op } from './mongo-query';
import { perItemFailures } from './write-errors';

// Key order does not matter, values do (ObjectIds, dates and numbers compared as extended JSON).
function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(BSON.EJSON.serialize(value, { relaxed: false })));
}

// One unordered insertMany; per document, undefined (stored) or the error a single insert would have thrown.
export async function insertEach(collection: Collection, docs: Array<Record<string, unknown>>): Promise<unknown[]> {
  try {
    await collection.insertMany(docs, { ordered: false });
    return docs.map(() => undefined);
  } catch (error) {
    const each = perItemFailures(error, docs.length);
    if (each) return each;
    // The command failed as a whole (a lost lock, a lost connection), and FerretDB may have stored part of
    // it first. Each document is inserted alone; one already stored under its own _id, identical, was
    // stored by the failed command, so it is ours, not a duplicate. A read that fails cannot tell: its
    // error is the document's, not the duplicate (a claim taken for another run's would be acted on by none).
    return Promise.all(
      docs.map(async (doc) => {
        try {
          await collection.insertOne(doc);
          return undefined;
        } catch (failure) {
          if (!isDuplicateKeyError(failure)) return failure;
          let stored: unknown;
          try {
            stored = await collection.findOne({ _id: doc._id } as never);
          } catch (unread) {
            return unread;
          }
          return stored && canonical(stored) === canonical(doc) ? undefined : failure;
        }
      }),
    );
  }
}

// Model.create for hot paths: each document is built and validated as create would, then stored in one
// insertMany with the other documents of the collection inserted meanwhile (a burst of dials inserts many
// claims, decisions and logs at once). A unique key still refuses each document on its own: the caller
// gets the same duplicate-key error a single insert would have given it.
export class CoalescedInserts<T> {
  private readonly batcher: InsertBatcher<Record<string, unknown>>;
  private readonly build: DocumentBuilder | null;

  constructor(
    private readonly model: Model<T>,
    // The collection is stored with its nulls absent (absent-nulls.ts): a built document's null fields stay out.
    private readonly options: { nullsAbsent?: boolean } = {},
  ) {
    this.batcher = new InsertBatcher((docs) => insertEach(model.collection, docs), 0, 500, { label: `insert ${model.collection.collectionName}`, giveUp: true });
    this.build = compileDocumentBuilder(model.schema);
  }

  // Resolves with the stored document, as a plain object.
  async insert<D = Record<string, unknown>>(fields: Record<string, unknown>): Promise<D> {
    const built = this.build?.(fields) ?? (await this.buildWithMongoose(fields));
    const stored = this.options.nullsAbsent ? withoutNulls(built) : built;
    await this.batcher.add(stored);
    return stored as D;
  }

  private async buildWithMongoose(fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    const doc = new this.model(fields);
    await doc.validate();
    // toBSON is what save() sends: casting, defaults and the schema's minimize, without virtuals.
    return doc.toBSON() as Record<string, unknown>;
  }
}

// Deletes by _id for short-lived markers (a run's ending, a create's marker, a relay entry): those asked for
// while a command is in flight go out together in one deleteMany, which on the stand-in database is one scan
// of a collection that holds markers in flight (and the few a crash or a failure left for a pass), and on
// MongoDB an _id index lookup per id. (One
// `_id` equality per statement instead cost `POST /schedule/` 15-20% of its rate: a statement is a scan.)
export class CoalescedDeletes<T> {
  private readonly batcher: Batcher<string, void>;

  constructor(model: Model<T>) {
    this.batcher = new Batcher<string, void>(async (ids) => {
      await model.deleteMany({ _id: op({ $in: ids }) });
      return ids.map(() => ({ value: undefined }));
    }, 0);
  }

  // Resolves once the command that carried it returns.
  delete(id: string): Promise<void> {
    return this.batcher.add(id);
  }
}
