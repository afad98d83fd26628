import { BatchStalledError, Batcher, Settled } from './insert-batcher';

// A write whose commands the test completes by hand, recording what each carried.
function heldWrites() {
  const commands: Array<{ items: number[]; done: () => void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const write = (items: number[]) =>
    new Promise<Array<Settled<number>>>((resolve) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      commands.push({
        items,
        done: () => {
          inFlight--;
          resolve(items.map((i) => (i < 0 ? { error: new Error(`refused ${i}`) } : { value: i * 10 })));
        },
      });
    });
  return { commands, write, maxInFlight: () => maxInFlight };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await turn();
  }
}

describe('Batcher', () => {
  it('with one command in flight, items added meanwhile go out together in the next command', async () => {
    const held = heldWrites();
    const batcher = new Batcher(held.write, 0, 10);
    const first = batcher.add(1);
    await until(() => held.commands.length === 1);
    const rest = [2, 3, 4].map((i) => batcher.add(i));
    await turn();
    expect(held.commands).toHaveLength(1);
    held.commands[0].done();
    await until(() => held.commands.length === 2);
    expect(held.commands.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    held.commands[1].done();
    await expect(Promise.all([first, ...rest])).resolves.toEqual([10, 20, 30, 40]);
    expect(held.maxInFlight()).toBe(1);
  });

  it('starts another command only while a full batch waits, up to commandsInFlight, and settles each item on its own', async () => {
    const held = heldWrites();
    const batcher = new Batcher(held.write, 0, 2, 2);
    const first = batcher.add(1);
    await until(() => held.commands.length === 1);
    // One item waiting is not a full batch: it waits for the command in flight.
    const second = batcher.add(2);
    await turn();
    expect(held.commands).toHaveLength(1);
    // A full batch waits now: a second command carries it.
    const third = batcher.add(-3);
    await until(() => held.commands.length === 2);
    expect(held.commands[1].items).toEqual([2, -3]);
    // Both in flight: more items queue, whatever their number.
    const later = [4, 5, 6].map((i) => batcher.add(i));
    await turn();
    expect(held.commands).toHaveLength(2);
    held.commands[1].done();
    await expect(second).resolves.toBe(20);
    await expect(third).rejects.toThrow('refused -3');
    await until(() => held.commands.length === 3);
    held.commands[0].done();
    await until(() => held.commands.length === 4);
    expect(held.commands.slice(2).map((c) => c.items).sort()).toEqual([[4, 5], [6]]);
    held.commands[2].done();
    held.commands[3].done();
    await expect(Promise.all([first, ...later])).resolves.toEqual([10, 40, 50, 60]);
    expect(held.maxInFlight()).toBe(2);
  });

  it('gives up a command left without an answer past its threshold: reports it once, fails its items, and carries the rest in the next command', async () => {
    const held = heldWrites();
    const reports: string[] = [];
    const batcher = new Batcher(held.write, 0, 10, 1, { label: 'insert claims', stalledAfterMs: 30, report: (m) => reports.push(m), giveUp: true });
    // Answered at once: its watchdog is cleared, so it can never report.
    const first = batcher.add(1);
    await until(() => held.commands.length === 1);
    held.commands[0].done();
    await first;
    // Never answered: given up after 30 ms, with what waits behind it named. The first command started
    // earlier, so had its watchdog survived it would have reported by then too.
    const hung = batcher.add(2);
    await until(() => held.commands.length === 2);
    const behind = [batcher.add(3), batcher.add(4)];
    await expect(hung).rejects.toBeInstanceOf(BatchStalledError);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(/^insert claims: a command of 1 item\(s\) has had no answer for \d+ s, given up; 2 item\(s\) wait behind it$/);
    // The writes behind it no longer wait for it.
    await until(() => held.commands.length === 3);
    expect(held.commands[2].items).toEqual([3, 4]);
    held.commands[2].done();
    await expect(Promise.all(behind)).resolves.toEqual([30, 40]);
    // Its late answer changes nothing.
    held.commands[1].done();
    await expect(hung).rejects.toBeInstanceOf(BatchStalledError);
    expect(reports).toHaveLength(1);
  });

  it('only reports a stalled command when it may not give it up: its items wait for its answer', async () => {
    const held = heldWrites();
    const reports: string[] = [];
    const batcher = new Batcher(held.write, 0, 10, 1, { label: 'update call_schedules', stalledAfterMs: 30, report: (m) => reports.push(m) });
    const slow = batcher.add(5);
    await until(() => held.commands.length === 1);
    const deadline = Date.now() + 2000;
    while (reports.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(reports).toEqual([expect.stringMatching(/^update call_schedules: a command of 1 item\(s\) has had no answer for \d+ s; 0 item\(s\) wait behind it$/)]);
    held.commands[0].done();
    await expect(slow).resolves.toBe(50);
  });
});
