import { Logger } from '@nestjs/common';

export type Settled<R> = { error: unknown } | { value: R };

// A command still without an answer this long is reported: the driver fails a command after the socket
// timeout (60 s by default) or a server selection after 30 s, so one past both has hung in this process. A
// batcher's commands carry every later write of its collection, so one that never returned stopped them all
// (docs/reliability.md: the open defect of 2026-12-07). A batcher of unique inserts (giveUp) also gives it
// up: its items fail as a lost connection would fail them, applied or not, and the writes behind it go out
// in the next command. Gated updates are only reported: one given up could still be sent later (it may be
// waiting for an update slot) and land on a revision its caller's retry has moved past.
const STALLED_AFTER_MS = 120_000;
const logger = new Logger('Batcher');

export class BatchStalledError extends Error {
  override readonly name = 'BatchStalledError';
}

export interface BatcherWatch {
  // What the report names: the collection, say.
  label: string;
  stalledAfterMs?: number;
  // Fail the command's items once it stalls, instead of only reporting it: only for writes that are safe
  // to apply late (unique inserts).
  giveUp?: boolean;
  report?: (message: string) => void;
}

// Items handed in while a command is in flight go out together in the next one, up to maxBatch: one
// database command for many documents when a burst of dials and callbacks makes many at once. `add`
// resolves with the item's own result once the command that carried it returns (or rejects with the error
// that concerned it), so a caller that must not go on before its write is durable still waits for it.
// While the database keeps up, batches stay small and add no latency; when it falls behind, they grow.
// commandsInFlight above 1: while a full batch waits behind the commands in flight, another command
// carries it, up to that many at once. For statements a server runs one after another within a command
// (FerretDB's bulkWrite) but side by side across commands.
export class Batcher<T, R> {
  private queue: Array<{ item: T; settle: (outcome: Settled<R>) => void }> = [];
  private writers = 0;

  // write: sends the batch and returns, per item, its result or the error that concerned it.
  constructor(
    private readonly write: (items: T[]) => Promise<Array<Settled<R>>>,
    private readonly gatherMs: number,
    private readonly maxBatch = 500,
    private readonly commandsInFlight = 1,
    private readonly watch?: BatcherWatch,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, settle: (o) => ('error' in o ? reject(o.error) : resolve(o.value)) });
      if (this.writers === 0 || (this.writers < this.commandsInFlight && this.queue.length >= this.maxBatch)) {
        this.writers++;
        void this.writeQueued();
      }
    });
  }

  private async writeQueued(): Promise<void> {
    // Items added within gatherMs join the first command. With 0, those added in the same turn of the event
    // loop do, at no added latency.
    await new Promise((resolve) => (this.gatherMs > 0 ? setTimeout(resolve, this.gatherMs) : setImmediate(resolve)));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let outcomes: Array<Settled<R>>;
      try {
        outcomes = await this.answerOf(batch.map((p) => p.item));
      } catch (error) {
        outcomes = batch.map(() => ({ error }));
      }
      batch.forEach((p, i) => p.settle(outcomes[i] ?? { error: new Error('no outcome for a batched write') }));
    }
    this.writers--;
  }

  // The command's answer. Watched, a command without one for the threshold is reported once, and (giveUp)
  // its items fail with a BatchStalledError; a late answer is then dropped, and the race has handled its
  // rejection.
  private answerOf(items: T[]): Promise<Array<Settled<R>>> {
    const write = this.write(items);
    const watch = this.watch;
    if (!watch) return write;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const message = `${watch.label}: a command of ${items.length} item(s) has had no answer for ${Math.round((Date.now() - started) / 1000)} s${watch.giveUp ? ', given up' : ''}; ${this.queue.length} item(s) wait behind it`;
        (watch.report ?? ((m: string) => logger.error(m)))(message);
        if (watch.giveUp) reject(new BatchStalledError(message));
      }, watch.stalledAfterMs ?? STALLED_AFTER_MS);
      timer.unref();
    });
    return Promise.race([write, stalled]).finally(() => clearTimeout(timer));
  }
}

// Inserts: write returns, per document, undefined (stored) or the error that kept it out.
export class InsertBatcher<T> extends Batcher<T, void> {
  constructor(write: (docs: T[]) => Promise<Array<unknown>>, gatherMs: number, maxBatch = 500, watch?: BatcherWatch) {
    super(async (docs) => (await write(docs)).map((error) => (error === undefined ? { value: undefined } : { error })), gatherMs, maxBatch, 1, watch);
  }
}
