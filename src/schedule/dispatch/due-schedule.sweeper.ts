import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { AppConfig } from '../../config/app-config';
import { DUE_SHARDS, DUE_SLOT_MS, dueShardOf, dueSlotOf } from '../due-slot';
import { ScheduleRepository } from '../schedule.repository';
import { DispatchTrigger } from './dispatch-trigger';
import { OccurrenceDispatchService } from './occurrence-dispatch.service';

interface Timed {
  timer: NodeJS.Timeout;
  at: number;
}

// How long an occurrence another instance claimed is left alone here. Without it every poll of every
// instance would dispatch again each due schedule whose claimant has not advanced it yet: on a burst, a
// load that grows with the backlog and slows the claimants down further.
const CLAIMED_ELSEWHERE_MS = 30_000;
const BACKLOG_PER_SLOT = 10;
const MIN_READ_GAP_MS = 1000;
// A slow poll read (over SLOW_READ_MS) may use at most about 1/READ_COST_SHARE of the time between reads.
// The slot's equality is pushed down on FerretDB's PostgreSQL handler (52 ms at 100,000 schedules; 10 ms
// where the launcher indexes the slot, 0041), but on its SQLite handler nothing is, and the read decodes
// every schedule (seconds at 100,000). Slow reads are made less often, up to MAX_POLL_MS apart, and reach
// MAX_POLL_MS further ahead so that timers are still set before their due time; the first read after a fast
// one comes at the normal interval, with the longer reach. On MongoDB the read is an index lookup and the
// poll stays SCHEDULER_POLL_INTERVAL_MS.
const READ_COST_SHARE = 10;
const SLOW_READ_MS = 500;
const MAX_POLL_MS = 60_000;
// Each poll reads the due slots from this far back to its reach ahead: a schedule whose dispatch failed, or
// that a busy poll left for later, is read again for this long. Anything older, and any schedule whose slot
// does not match its due time (stored by an earlier version, or moved by one during a rolling upgrade), is
// left to the catch-up read: the whole due list (a scan of call_schedules on FerretDB), page by page, made
// at start, after a gap in the polls longer than this, and every CATCH_UP_MS or, when it is slow,
// CATCH_UP_COST_SHARE times its own duration. It sets timers for everything due before the next one, so
// such a schedule is still dialed on time.
const SLOT_LAG_MS = 2 * 60_000;
// The most a poll reads with room for what the instance holds (0037): well below the 5,000 copies a write
// gate remembers, so that a read does not push out the copies its waiting dispatches start from.
const MAX_READ = 4000;
const CATCH_UP_MS = 10 * 60_000;
const CATCH_UP_COST_SHARE = 50;

// The due slots that hold due times in [from, to].
function slotsBetween(from: number, to: number): number[] {
  const slots: number[] = [];
  for (let slot = dueSlotOf(new Date(from))!; slot * DUE_SLOT_MS <= to; slot++) slots.push(slot);
  return slots;
}

// Every instance runs one: each poll reads the schedules due within the lookahead (by due slot, one or two
// equality queries), sets in-memory timers for them and dispatches at the due time. Schedules created or
// moved on this instance arrive through DispatchTrigger without waiting for a poll. Instances race freely; the
// occurrence claim decides, and a timer that fires for a schedule changed since is answered by the
// dispatcher re-reading it.
@Injectable()
export class DueScheduleSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DueScheduleSweeper.name);
  private readonly timers = new Map<string, Timed>();
  private readonly inFlight = new Map<string, Promise<void>>();
  // Schedule id -> the due time it was armed for.
  private readonly waiting = new Map<string, number>();
  private readonly claimedElsewhere = new Map<string, { at: number; until: number }>();
  private loop: NodeJS.Timeout | null = null;
  private running = false;
  // The last read returned all it could: more is due than one read brings, so the next read comes as soon
  // as the backlog is down to the dispatches in flight instead of a poll interval later.
  private moreDue = false;
  private lastReadAt = 0;
  // Clock times: how far the last successful poll's read reached, and when the last full catch-up began.
  private lastSlotHorizon: number | null = null;
  private lastCatchUp: number | null = null;
  private catchUpEveryMs = CATCH_UP_MS;
  private catchingUp = false;
  private pollMs = 0;
  private reachMs = 0;
  private stopped = true;

  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly dispatch: OccurrenceDispatchService,
    private readonly trigger: DispatchTrigger,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.scheduler.enabled) return;
    this.stopped = false;
    this.pollMs = this.config.scheduler.pollIntervalMs;
    // Until the first read shows it is fast, as if reads were slow.
    this.reachMs = this.config.scheduler.lookaheadMs + MAX_POLL_MS;
    this.trigger.listen((id, at) => this.arm(id, at.getTime()));
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop(this.config.scheduler.shutdownTimeoutMs);
  }

  // Take no new work; let running dispatches finish within the timeout.
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.trigger.listen(null);
    if (this.loop) clearTimeout(this.loop);
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.waiting.clear();
    this.claimedElsewhere.clear();
    const pending = Promise.allSettled([...this.inFlight.values()]);
    await Promise.race([pending, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  backlog(): number {
    return this.waiting.size + this.inFlight.size;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.loop = setTimeout(() => void this.sweep(), delayMs);
  }

  async sweep(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      const now = this.clock.now().getTime();
      for (const [id, skip] of this.claimedElsewhere) if (skip.until <= Date.now()) this.claimedElsewhere.delete(id);
      // With a backlog in hand there is nothing to gain from reading the due list again: on FerretDB that
      // read decodes every schedule of the slot, and on a burst it would compete with the dispatches for the
      // database.
      if (this.backlogIsFull()) return;
      this.lastReadAt = Date.now();
      if (this.catchUpDue(now)) void this.catchUp(now);
      const horizon = now + this.reachMs;
      // The read returns what this instance already holds too (it is still due until its dispatch advances
      // it): room for that as well, so that a read in a burst brings up to a batch of new work. On FerretDB
      // the slot's due rows are read whatever the limit.
      const { sweepBatch } = this.config.scheduler;
      const limit = Math.max(sweepBatch, Math.min(sweepBatch + this.waiting.size + this.inFlight.size, MAX_READ));
      const due = await this.schedules.findDueInSlots(slotsBetween(now - SLOT_LAG_MS, horizon), new Date(horizon), limit);
      this.lastSlotHorizon = horizon;
      const { pollIntervalMs, lookaheadMs } = this.config.scheduler;
      const took = Date.now() - this.lastReadAt;
      const slow = took > SLOW_READ_MS;
      const wasSlow = this.reachMs > lookaheadMs;
      this.pollMs = slow && wasSlow ? Math.min(MAX_POLL_MS, Math.max(pollIntervalMs, took * READ_COST_SHARE)) : pollIntervalMs;
      this.reachMs = lookaheadMs + (slow ? MAX_POLL_MS : 0);
      this.moreDue = due.length >= limit;
      this.armAll(due);
    } catch (error) {
      this.logger.warn(`sweep failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.running = false;
      this.schedule(this.pollMs);
    }
  }

  // Instances start at different points of the same due list, so they mostly claim different schedules
  // instead of all racing for the first ones: at the shard of a random one of the read (a burst's read holds
  // a run of whole shards, 0037). Armed in shard order from there (timers due at the same instant mostly
  // fire in the order they were set): the dispatches in flight at once then mostly share a shard, and their
  // advances go out together (ScheduleRepository.advanceWithOthers). Only the write batching depends on
  // the order.
  private armAll(due: Array<{ id: string; next_execution: Date }>, reachMs = this.reachMs): void {
    if (due.length === 0) return;
    const start = dueShardOf(due[Math.floor(Math.random() * due.length)].id);
    const order = (id: string) => (dueShardOf(id) - start + DUE_SHARDS) % DUE_SHARDS;
    for (const { id, next_execution } of [...due].sort((a, b) => order(a.id) - order(b.id))) {
      // A read that began before this process's own advance of a schedule can return after it, and would
      // dispatch it again (a wasted dispatch, and on FerretDB a scan of call_schedules to find it running).
      // The copy this process remembers is never older than the read: it says where the schedule is due now.
      const remembered = this.schedules.rememberedDueTime(id);
      const at = remembered === undefined ? next_execution : remembered;
      if (at) this.arm(id, at.getTime(), reachMs);
    }
  }

  private catchUpDue(now: number): boolean {
    if (this.catchingUp) return false;
    // A clock moved back counts as due too.
    if (this.lastCatchUp === null || now < this.lastCatchUp || now - this.lastCatchUp >= this.catchUpEveryMs) return true;
    // Polls stopped for a while (a backlog, a failing database, a clock moved on): the slots read now no
    // longer reach back to where the last successful read reached.
    return this.lastSlotHorizon === null || now - SLOT_LAG_MS > this.lastSlotHorizon;
  }

  // Beside the polls, never in their way: on FerretDB at 100,000 schedules a page takes seconds. It stops
  // paging while the backlog is full, and is then made again from the start at the next poll: what it
  // armed has been claimed and advanced by then, so its first pages hold what is left.
  private async catchUp(now: number): Promise<void> {
    this.catchingUp = true;
    const started = Date.now();
    // Up to the one after next (the interval as the last catch-up's cost set it): whatever falls due before
    // then gets its timer now.
    const reachMs = 2 * this.catchUpEveryMs + SLOT_LAG_MS;
    try {
      let after: { id: string; next_execution: Date } | undefined;
      for (;;) {
        const page = await this.schedules.findDueSchedules(new Date(now + reachMs), this.config.scheduler.sweepBatch, after);
        if (this.stopped) return;
        this.armAll(page, reachMs - (this.clock.now().getTime() - now));
        if (page.length < this.config.scheduler.sweepBatch) break;
        if (this.backlogIsFull()) return;
        after = page[page.length - 1];
      }
      this.lastCatchUp = now;
      // Never so far apart that the next one starts, and reads, past what this one armed.
      const took = Date.now() - started;
      this.catchUpEveryMs = Math.min(Math.max(CATCH_UP_MS, took * CATCH_UP_COST_SHARE), reachMs - SLOT_LAG_MS - took);
    } catch (error) {
      this.logger.warn(`catch-up read failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.catchingUp = false;
    }
  }

  private backlogIsFull(): boolean {
    return this.waiting.size >= this.config.scheduler.dispatchConcurrency * BACKLOG_PER_SLOT;
  }

  // Once the backlog is down to what the dispatches in flight take next, at most one read a second: the read
  // (seconds on FerretDB in a large burst) then overlaps the last of the work instead of following it.
  private readSoon(): void {
    if (this.stopped || this.running || !this.moreDue || this.waiting.size > this.config.scheduler.dispatchConcurrency) return;
    this.moreDue = false;
    if (this.loop) clearTimeout(this.loop);
    this.schedule(Math.max(0, this.lastReadAt + MIN_READ_GAP_MS - Date.now()));
  }

  // Sets (or moves) the schedule's timer. Beyond the reach it is left to a later read.
  private arm(id: string, at: number, reachMs = this.reachMs): void {
    if (this.stopped || this.waiting.has(id) || this.inFlight.has(id)) return;
    if (this.claimedElsewhere.get(id)?.at === at) return;
    const delay = at - this.clock.now().getTime();
    const timed = this.timers.get(id);
    // Kept unless the clock has already passed it (the injectable clock may jump; timers run on wall time).
    if (timed?.at === at && delay > 0) return;
    if (timed) clearTimeout(timed.timer);
    this.timers.delete(id);
    if (delay > reachMs) return;
    if (delay <= 0) return this.enqueue(id, at);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.enqueue(id, at);
    }, delay);
    this.timers.set(id, { timer, at });
  }

  private enqueue(id: string, at: number): void {
    if (this.stopped) return;
    this.waiting.set(id, at);
    this.drain();
  }

  private drain(): void {
    for (const [id, at] of this.waiting) {
      if (this.stopped || this.inFlight.size >= this.config.scheduler.dispatchConcurrency) return;
      this.waiting.delete(id);
      const run = this.dispatch
        .dispatchDue(id)
        .then((outcome) => {
          this.logger.debug(`sweeper ${id} -> ${outcome.outcome}`);
          if (outcome.outcome === 'already_claimed') this.claimedElsewhere.set(id, { at, until: Date.now() + CLAIMED_ELSEWHERE_MS });
          return outcome.nextRunAt;
        })
        .catch((error: unknown) => {
          this.logger.warn(`dispatch of ${id} failed (retried next sweep): ${error instanceof Error ? error.message : String(error)}`);
          return undefined;
        })
        .then((nextRunAt) => {
          this.inFlight.delete(id);
          // The next occurrence of a recurring schedule (or an early wake-up's due time) may be near.
          if (nextRunAt) this.arm(id, nextRunAt.getTime());
          this.drain();
          this.readSoon();
        });
      this.inFlight.set(id, run);
    }
  }
}
