import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { hostname } from 'node:os';
import { Clock } from '../../common/clock/clock';
import { AppConfig } from '../../config/app-config';
import { DialSlotRepository } from './dial-slot.repository';

// Slots are spaced wider than 1/CPS (CALLS_RATE_HEADROOM_PERCENT) so that requests which reach the
// provider late (up to SEND_TOLERANCE_MS before the send, the rest in the HTTP client and a busy event loop)
// still never put more than CPS requests into any one-second window.
export const SEND_TOLERANCE_MS = 15;
// CALLS_MIN_GAP_MS is a floor on the gap between requests: a request may leave up to SEND_TOLERANCE_MS
// after its slot and the next one on time, and the HTTP client adds some ±30 ms, so slots are this much wider.
const GAP_MARGIN_MS = 50;
// Slots are reserved this far ahead, so the database round trip is off the critical path; the waiting
// calls' slots within it are reserved together, in one insert (at most MAX_BATCH).
const LOOKAHEAD_MS = 300;
// How far ahead of now a lane's next slot, or another instance's newest, can legitimately lie.
const MAX_AHEAD_MS = 2 * LOOKAHEAD_MS;
const MAX_BATCH = 100;
const PRUNE_EVERY_MS = 60_000;
const KEEP_SLOTS_MS = 10 * 60_000;

export interface PacingTicket {
  dueAt: Date;
  priority: number;
  startBy: Date | null;
}

export type PacingGrant = { kind: 'granted'; startAt: number } | { kind: 'expired'; reason: 'start_by_passed' | 'shutting_down' };

interface Waiter {
  dueAt: number;
  priority: number;
  startBy: number | null;
  seq: number;
  resolve: (grant: PacingGrant) => void;
}

interface Lane {
  waiters: Waiter[];
  next: number;
  pumping: boolean;
}

// Cluster-wide pacing through the database: time is cut into slots of 1/CPS seconds (or CALLS_MIN_GAP_MS,
// if wider) and each provider request needs a slot, reserved by inserting the slot's unique id. Waiting calls are served in order of
// due time, then priority, per instance; across instances the first insert wins.
@Injectable()
export class CallPacer implements OnApplicationShutdown {
  private readonly logger = new Logger(CallPacer.name);
  private readonly holder = `${hostname()}:${process.pid}`;
  private readonly lanes = new Map<string, Lane>();
  private seq = 0;
  private lastPrune = 0;
  private closed = false;

  constructor(
    private readonly slots: DialSlotRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  get enabled(): boolean {
    return this.config.dialing.callsPerSecond > 0 || this.config.dialing.minGapMs > 0;
  }

  // Milliseconds from one slot to the next.
  private slotWidth(): number {
    const { callsPerSecond, minGapMs, rateHeadroomPercent } = this.config.dialing;
    const rateWidth = callsPerSecond > 0 ? 1000 / (callsPerSecond * (1 - rateHeadroomPercent / 100)) : 0;
    return Math.max(rateWidth, minGapMs > 0 ? minGapMs + GAP_MARGIN_MS : 0);
  }

  waiting(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.waiters.length;
    return n;
  }

  reserve(key: string, ticket: PacingTicket): Promise<PacingGrant> {
    if (!this.enabled) return Promise.resolve({ kind: 'granted', startAt: this.clock.now().getTime() });
    // Shutting down: nothing new starts, and the dispatcher records the call as not dialed.
    if (this.closed) return Promise.resolve({ kind: 'expired', reason: 'shutting_down' });
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { waiters: [], next: 0, pumping: false };
      this.lanes.set(key, lane);
    }
    const grant = new Promise<PacingGrant>((resolve) => {
      const waiter: Waiter = { dueAt: ticket.dueAt.getTime(), priority: ticket.priority, startBy: ticket.startBy?.getTime() ?? null, seq: this.seq++, resolve };
      const at = lane.waiters.findIndex((w) => w.dueAt > waiter.dueAt || (w.dueAt === waiter.dueAt && w.priority < waiter.priority));
      if (at === -1) lane.waiters.push(waiter);
      else lane.waiters.splice(at, 0, waiter);
    });
    void this.pump(key, lane);
    return grant;
  }

  onApplicationShutdown(): void {
    this.closed = true;
    for (const lane of this.lanes.values()) for (const w of lane.waiters.splice(0)) w.resolve({ kind: 'expired', reason: 'shutting_down' });
  }

  private async pump(key: string, lane: Lane): Promise<void> {
    if (lane.pumping) return;
    lane.pumping = true;
    try {
      while (lane.waiters.length > 0 && !this.closed) {
        const width = this.slotWidth();
        const now = this.clock.now().getTime();
        // lane.next is at most about the lookahead ahead, unless the clock moved back: then from now again.
        if (lane.next * width > now + MAX_AHEAD_MS + width) lane.next = 0;
        const slot = Math.max(Math.ceil(now / width), lane.next);
        const at = slot * width;
        if (at - now > LOOKAHEAD_MS) {
          await sleep(at - now - LOOKAHEAD_MS);
          continue;
        }
        const head = lane.waiters[0];
        if (head.startBy !== null && at > head.startBy) {
          lane.waiters.shift();
          head.resolve({ kind: 'expired', reason: 'start_by_passed' });
          continue;
        }
        // One slot per waiting call, as many as start within the lookahead.
        const within = Math.floor((now + LOOKAHEAD_MS - at) / width) + 1;
        const count = Math.max(1, Math.min(lane.waiters.length, within, MAX_BATCH));
        const batch = Array.from({ length: count }, (_, i) => ({ slot: slot + i, at: new Date((slot + i) * width) }));
        let won: Set<number>;
        try {
          won = await this.slots.reserveSlots(key, batch, this.holder);
        } catch (error) {
          this.logger.warn(`slot reservation failed, retrying: ${error instanceof Error ? error.message : String(error)}`);
          await sleep(100);
          continue;
        }
        lane.next = slot + count;
        // Won slots go to the waiters in order; a waiter whose start-by a slot would pass gives up instead.
        for (const { slot: s, at: slotAt } of batch) {
          if (!won.has(s)) continue;
          let waiter = lane.waiters.shift();
          while (waiter && waiter.startBy !== null && slotAt.getTime() > waiter.startBy) {
            waiter.resolve({ kind: 'expired', reason: 'start_by_passed' });
            waiter = lane.waiters.shift();
          }
          // Fewer waiters than slots (the ones left expired): the slot goes unused.
          waiter?.resolve({ kind: 'granted', startAt: slotAt.getTime() });
        }
        if (won.size === 0) {
          // Another instance holds these slots and probably the ones after them: skip past its newest, which
          // is at most its lookahead ahead (a slot further on was taken under another clock or width).
          const latest = await this.slots.latestSlotTime(key).catch(() => null);
          const skipTo = latest === null ? slot : Math.ceil(Math.min(latest.getTime(), now + MAX_AHEAD_MS) / width);
          lane.next = Math.max(slot + count, skipTo + 1);
        }
      }
    } finally {
      lane.pumping = false;
    }
    await this.prune();
  }

  private async prune(): Promise<void> {
    const now = this.clock.now().getTime();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    await this.slots.pruneBefore(new Date(now - KEEP_SLOTS_MS)).catch(() => undefined);
  }
}
