// At most `max` slots are held at once; tasks wait in arrival order.
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: Array<{ weight: number; go: () => void }> = [];

  constructor(private readonly max: number) {}

  // weight: the slots the task holds while it runs (one by default, at most max).
  async run<T>(task: () => Promise<T>, weight = 1): Promise<T> {
    if (this.waiting.length === 0 && this.active + weight <= this.max) this.active += weight;
    else await new Promise<void>((go) => this.waiting.push({ weight, go }));
    try {
      return await task();
    } finally {
      this.active -= weight;
      // Freed slots go to the waiters in arrival order, each once all of its slots are free.
      while (this.waiting.length > 0 && this.active + this.waiting[0].weight <= this.max) {
        const next = this.waiting.shift()!;
        this.active += next.weight;
        next.go();
      }
    }
  }

  get queued(): number {
    return this.waiting.length;
  }
}
