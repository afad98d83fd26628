import { Collection, Model } from 'mongoose';
import { InsertBatcher } from './insert-batcher';
import { perItemFailures } from './write-errors';

// One unordered insertMany; per document, undefined (stored) or the error a single insert would have thrown.
export async function insertEach(collection: Collection, docs: Array<Record<string, unknown>>): Promise<unknown[]> {
  try {
    await collection.insertMany(docs, { ordered: false });
    return docs.map(() => undefined);
  } catch (error) {
    return perItemFailures(error, docs.length) ?? docs.map(() => error);
  }
}

// Model.create for hot paths: each document is built and validated as create would, then stored in one
// insertMany with the other documents of the collection inserted meanwhile (a burst of dials inserts many
// claims, decisions and logs at once). A unique key still refuses each document on its own: the caller
// gets the same duplicate-key error a single insert would have given it.
export class CoalescedInserts<T> {
  private readonly batcher: InsertBatcher<Record<string, unknown>>;

  constructor(private readonly model: Model<T>) {
    this.batcher = new InsertBatcher((docs) => insertEach(model.collection, docs), 0);
  }

  // Resolves with the stored document, as a plain object.
  async insert<D = Record<string, unknown>>(fields: Record<string, unknown>): Promise<D> {
    const doc = new this.model(fields);
    await doc.validate();
    // toBSON is what save() sends: casting, defaults and the schema's minimize, without virtuals.
    const stored = doc.toBSON() as Record<string, unknown>;
    await this.batcher.add(stored);
    return stored as D;
  }
}
