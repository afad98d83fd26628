// Work a caller started and did not wait for (after a response, on a published event), kept so that a
// shutdown can let it finish.
export class InFlight {
  private readonly work = new Set<Promise<unknown>>();

  get size(): number {
    return this.work.size;
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.work.add(work);
    const done = () => this.work.delete(work);
    work.then(done, done);
    return work;
  }

  // What is running now (a test waits on it).
  running(): Promise<unknown>[] {
    return [...this.work];
  }

  // Until everything tracked, what starts meanwhile included, has settled, or `deadline` (epoch ms) has
  // passed. Returns how many had not.
  async drain(deadline: number): Promise<number> {
    while (this.work.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.work]), new Promise((resolve) => (timer = setTimeout(resolve, deadline - Date.now())))]);
      clearTimeout(timer);
    }
    return this.work.size;
  }
}
