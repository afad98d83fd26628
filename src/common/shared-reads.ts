const settled = () => undefined;

interface Entry {
  running: Promise<unknown>;
  next: Promise<unknown> | null;
}

// Identical reads asked for at once (dashboards polling the same page) share their database work: a read
// asked for while the same one runs waits for it to end and then shares one fresh read with every other
// caller that arrived meanwhile. Each caller is answered by a read that started after it asked, as if it
// had read alone; N identical callers cost at most two reads at a time instead of N.
export class SharedReads {
  private readonly entries = new Map<string, Entry>();

  read<T>(key: string, load: () => Promise<T>): Promise<T> {
    const entry = this.entries.get(key);
    if (!entry) return this.start(key, load);
    entry.next ??= entry.running.then(settled, settled).then(() => this.start(key, load));
    return entry.next as Promise<T>;
  }

  // Reads in flight or waiting (a test checks that none is left behind).
  get size(): number {
    return this.entries.size;
  }

  private start<T>(key: string, load: () => Promise<T>): Promise<T> {
    const running = Promise.resolve().then(load);
    const entry: Entry = { running, next: null };
    this.entries.set(key, entry);
    // Runs before the waiting read's start (registered first): the entry goes only when nobody waits.
    void running.then(settled, settled).then(() => {
      if (this.entries.get(key) === entry && entry.next === null) this.entries.delete(key);
    });
    return running;
  }
}
