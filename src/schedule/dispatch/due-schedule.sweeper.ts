import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '../../common/clock/clock';
import { AppConfig } from '../../config/app-config';
import { ScheduleRepository } from '../schedule.repository';
import { DispatchTrigger } from './dispatch-trigger';
import { OccurrenceDispatchService } from './occurrence-dispatch.service';

// Per instance: reads due schedules in one query per poll, sets in-memory timers for those due within
// the next poll, and dispatches at the due time. Instances race freely; the occurrence claim decides.
@Injectable()
export class DueScheduleSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DueScheduleSweeper.name);
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly waiting: string[] = [];
  private readonly jobIds = new Map<string, string | null>();
  private loop: NodeJS.Timeout | null = null;
  private running = false;
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
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop(this.config.scheduler.shutdownTimeoutMs);
  }

  // Take no new work; let running dispatches finish within the timeout.
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.loop) clearTimeout(this.loop);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.waiting.length = 0;
    const pending = Promise.allSettled([...this.inFlight.values()]);
    await Promise.race([pending, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  backlog(): number {
    return this.waiting.length + this.inFlight.size;
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
      const horizon = new Date(now + this.config.scheduler.pollIntervalMs);
      const due = await this.schedules.findDueSchedules(horizon, this.config.scheduler.sweepBatch);
      // Instances start at different points of the same due list, so they mostly claim different
      // schedules instead of all racing for the first ones.
      const start = due.length > 0 ? Math.floor(Math.random() * due.length) : 0;
      await this.trigger.postpone(due.map((d) => d.job_id).filter((j): j is string => j !== null), new Date(now));
      for (const { id, next_execution, job_id } of [...due.slice(start), ...due.slice(0, start)]) {
        if (this.timers.has(id) || this.inFlight.has(id) || this.waiting.includes(id)) continue;
        this.jobIds.set(id, job_id);
        const delay = next_execution.getTime() - now;
        if (delay <= 0) this.enqueue(id);
        else
          this.timers.set(
            id,
            setTimeout(() => {
              this.timers.delete(id);
              this.enqueue(id);
            }, delay),
          );
      }
    } catch (error) {
      this.logger.warn(`sweep failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.running = false;
      this.schedule(this.config.scheduler.pollIntervalMs);
    }
  }

  private enqueue(id: string): void {
    if (this.stopped) return;
    this.waiting.push(id);
    this.drain();
  }

  private drain(): void {
    while (!this.stopped && this.inFlight.size < this.config.scheduler.concurrency && this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      const run = this.dispatch
        .dispatchDue(id)
        .then(async (outcome) => {
          this.logger.debug(`sweeper ${id} -> ${outcome.outcome}`);
          // The winner moves the schedule's backstop job past this occurrence, so it never fires for it.
          if ((outcome.outcome === 'dispatched' || outcome.outcome === 'missed') && outcome.nextRunAt !== undefined) {
            await this.trigger.arm(id, this.jobIds.get(id) ?? null, outcome.nextRunAt);
          }
        })
        .catch((error: unknown) => this.logger.warn(`dispatch of ${id} failed (retried next sweep): ${error instanceof Error ? error.message : String(error)}`))
        .finally(() => {
          this.inFlight.delete(id);
          this.jobIds.delete(id);
          this.drain();
        });
      this.inFlight.set(id, run);
    }
  }
}
