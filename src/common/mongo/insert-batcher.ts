// Inserts handed in while a write is in flight go out together in the next one, up to maxBatch: one
// database command for many documents when a burst of dials and callbacks makes many at once. `add`
// resolves once its document is stored (or rejects with the error that kept it out), so a caller that
// must not go on before its document is durable still waits for it.
export class InsertBatcher<T> {
  private queue: Array<{ doc: T; settle: (error?: unknown) => void }> = [];
  private writing: Promise<void> | null = null;

  // write: stores the batch and returns, per document, undefined (stored) or the error that kept it out.
  constructor(
    private readonly write: (docs: T[]) => Promise<Array<unknown>>,
    private readonly gatherMs: number,
    private readonly maxBatch = 500,
  ) {}

  add(doc: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ doc, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      this.writing ??= this.writeQueued();
    });
  }

  private async writeQueued(): Promise<void> {
    // Documents added within gatherMs join the first write (dials and callbacks end a few ms apart).
    await new Promise((resolve) => setTimeout(resolve, this.gatherMs));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let errors: unknown[];
      try {
        errors = await this.write(batch.map((p) => p.doc));
      } catch (error) {
        errors = batch.map(() => error);
      }
      batch.forEach((p, i) => p.settle(errors[i]));
    }
    this.writing = null;
  }
}
