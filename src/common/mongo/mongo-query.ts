import { createHash } from 'node:crypto';
import mongoose, { Types } from 'mongoose';

// An ObjectId that the same parts always give (the first 12 bytes of SHA-256 of them, one per line): a
// record that must exist at most once is keyed by it, so a second writer's insert is refused, and the
// record is found by _id alone, which FerretDB pushes down to storage.
export function derivedObjectId(...parts: string[]): Types.ObjectId {
  return new Types.ObjectId(digestOf(parts).subarray(0, 12));
}

const digestOf = (parts: string[]) => createHash('sha256').update(parts.join('\n')).digest();

// derivedObjectId with the ObjectId's time part set to `at` (the remaining 8 bytes from the hash): for
// records that are listed newest first by _id, so that a derived id still sorts by time, to the second.
export function timedDerivedObjectId(at: Date, ...parts: string[]): Types.ObjectId {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32BE(Math.floor(at.getTime() / 1000) >>> 0, 0);
  digestOf(parts).copy(bytes, 4, 0, 8);
  return new Types.ObjectId(bytes);
}

export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: number }).code === 11000;
}

// Path ids that are not ObjectIds can't name a record: callers treat them as "not found".
// For inserts whose unique index is the lock: true if this insert won, false if the key already existed.
export async function insertedUnlessDuplicate(insert: () => Promise<unknown>): Promise<boolean> {
  try {
    await insert();
    return true;
  } catch (error) {
    if (isDuplicateKeyError(error)) return false;
    throw error;
  }
}

export function toObjectId(id: string): Types.ObjectId | null {
  return typeof id === 'string' && /^[0-9a-fA-F]{24}$/.test(id) ? new Types.ObjectId(id) : null;
}

// sanitizeFilter is on globally, so operator objects written by our own code must be marked trusted;
// anything built from request data stays unmarked and is neutralised by $eq.
export function op<T extends object>(operators: T): T {
  return mongoose.trusted(operators) as T;
}

// FerretDB's SQLite storage answers a write that lost the database lock with SQLITE_BUSY: nothing was
// written, so the same write can be tried again. Any other error is not retried here.
export function isLockContention(error: unknown): boolean {
  return error instanceof Error && /SQLITE_BUSY|database is locked/.test(error.message);
}

export async function retryOnLockContention<T>(write: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt >= attempts || !isLockContention(error)) throw error;
      await new Promise((r) => setTimeout(r, 25 * 2 ** attempt + Math.random() * 50));
    }
  }
}
