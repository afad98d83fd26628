import type { Model } from 'mongoose';
import { AppException } from '../errors/app.exception';

// MaxTimeMSExpired, on MongoDB and FerretDB alike.
const MAX_TIME_MS_EXPIRED = 50;

export class QueryTimeLimitExceededException extends AppException {
  constructor(limitMs: number) {
    super('SERVICE_002', { field: null, issue: `The query ran past its ${limitMs} ms limit; narrow the filters or page with a smaller limit` });
  }
}

// API reads over whole collections carry maxTimeMS: the database stops the query at the limit instead
// of running on after the client has given up (FerretDB sorts in memory, and piled-up sorts of 100,000
// documents exhausted the machine's memory in the benchmark).
export async function withinTimeLimit<T>(limitMs: number, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === MAX_TIME_MS_EXPIRED) throw new QueryTimeLimitExceededException(limitMs);
    throw error;
  }
}

// One page of an API list and its total, both under the time limit.
export function findPageWithin<D, T>(
  model: Model<D>,
  query: Record<string, unknown>,
  sort: Record<string, 1 | -1>,
  page: { offset: number; limit: number },
  limitMs: number,
): Promise<[T[], number]> {
  return withinTimeLimit(limitMs, () =>
    Promise.all([
      model.find(query).sort(sort).skip(page.offset).limit(page.limit).maxTimeMS(limitMs).lean<T[]>().exec(),
      model.countDocuments(query).maxTimeMS(limitMs).exec(),
    ]),
  );
}
