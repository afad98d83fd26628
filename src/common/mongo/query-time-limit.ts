import type { Model } from 'mongoose';
import { AppException } from '../errors/app.exception';

// MaxTimeMSExpired, on MongoDB and FerretDB alike.
const MAX_TIME_MS_EXPIRED = 50;

export class QueryTimeLimitExceededException extends AppException {
  constructor(limitMs: number) {
    super('SERVICE_002', { field: null, issue: `The query ran past its ${limitMs} ms limit; narrow the filters or page with a smaller limit` });
  }
}

// One API read's time limit, held from both ends. maxTimeMS makes the database stop its own work instead of
// running on after the client has given up (FerretDB sorts in memory, and piled-up sorts of 100,000 documents
// exhausted the machine's memory in the benchmark). The abort signal stops the read in the driver when the time
// goes elsewhere (a slow network, a pool wait, a reply that never comes), which maxTimeMS cannot see. The
// driver's own timeoutMS would do both, but the installed driver (7.9) ignores it.
export class QueryTimeLimit {
  readonly signal: AbortSignal;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly limitMs: number) {
    // Not AbortSignal.timeout: while reading a reply, the driver takes its reason (named TimeoutError) for a
    // timeout of its own and throws a MongoOperationTimeoutError instead.
    const controller = new AbortController();
    this.timer = setTimeout(() => controller.abort(new QueryTimeLimitExceededException(limitMs)), limitMs).unref();
    this.signal = controller.signal;
  }

  // Once the read is over, so that the timer does not outlive the request.
  finish(): void {
    clearTimeout(this.timer);
  }

  // For Query#setOptions and Aggregate#option; the driver rejects an aborted read with signal.reason.
  get options(): { maxTimeMS: number; signal: AbortSignal } {
    return { maxTimeMS: this.limitMs, signal: this.signal };
  }

  async run<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof QueryTimeLimitExceededException) throw error;
      const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
      if (code === MAX_TIME_MS_EXPIRED || name === 'MongoOperationTimeoutError') throw new QueryTimeLimitExceededException(this.limitMs);
      throw error;
    }
  }
}

export async function withinTimeLimit<T>(limitMs: number, read: (limit: QueryTimeLimit) => Promise<T>): Promise<T> {
  const limit = new QueryTimeLimit(limitMs);
  try {
    return await limit.run(() => read(limit));
  } finally {
    limit.finish();
  }
}

// One page of an API list and its total, both under the time limit.
export function findPageWithin<D, T>(
  model: Model<D>,
  query: Record<string, unknown>,
  sort: Record<string, 1 | -1>,
  page: { offset: number; limit: number },
  limitMs: number,
  // What the total counts, when the page's query narrows it further (keyset paging).
  countQuery: Record<string, unknown> = query,
): Promise<[T[], number]> {
  return withinTimeLimit(limitMs, (limit) =>
    Promise.all([
      model.find(query).sort(sort).skip(page.offset).limit(page.limit).setOptions(limit.options).lean<T[]>().exec(),
      model.countDocuments(countQuery).setOptions(limit.options).exec(),
    ]),
  );
}
