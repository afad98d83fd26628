import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { CallStatusInbox } from '../calls/call-status-inbox';
import { CallPacer } from '../calls/pacing/call-pacer.service';
import { SimulatedCallProvider } from '../calls/providers/simulated-call.provider';
import { AppConfig } from '../config/app-config';
import { DueScheduleSweeper } from '../schedule/dispatch/due-schedule.sweeper';
import { ScheduleCreationRelay } from '../schedule/schedule-creation.relay';

// Probes are not work, and event streams stay open until the client leaves: waiting for them would only
// burn the whole timeout.
const UNTRACKED = /^\/(health|metrics)(\/|$)|\/stream\/?$/;

// SIGTERM (app.close) first flips readiness to 503, then lets dispatches in flight and HTTP work (webhook
// callbacks above all) finish, each within the shutdown timeout. This runs before Nest closes the HTTP
// server: a load balancer sees the 503 and stops routing here, while the callbacks of calls placed during
// the drain still get in. Agenda's own jobs drain afterwards, in the job queue's shutdown hook.
@Injectable()
export class ShutdownDrain implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private draining = false;
  private inFlight = 0;
  private idle: Array<() => void> = [];

  constructor(
    private readonly config: AppConfig,
    private readonly moduleRef: ModuleRef,
  ) {}

  isDraining(): boolean {
    return this.draining;
  }

  inFlightRequests(): number {
    return this.inFlight;
  }

  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    // Once draining, every connection ends with its current response. A keep-alive connection that a
    // client keeps busy (a provider's callbacks, back to back) is never idle, so closing the HTTP server
    // would wait for it forever, and the process would run into main's hard deadline.
    if (this.draining) res.setHeader('Connection', 'close');
    if (UNTRACKED.test(req.path)) return next();
    this.inFlight++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };

  private drained: Promise<void> | null = null;

  // main calls it on SIGTERM before app.close(), so that readiness turns 503 at once and the work drained
  // here still reaches every listener (notifications detach in onModuleDestroy, which close runs first).
  // A close without main (tests) drains here. Once per process.
  drain(): Promise<void> {
    return (this.drained ??= this.runDrain());
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.drain();
  }

  private async runDrain(): Promise<void> {
    this.draining = true;
    const timeoutMs = this.config.scheduler.shutdownTimeoutMs;
    // A call still waiting for a pacing slot is not started any more (it is recorded as not dialed).
    this.optional(CallPacer)?.onApplicationShutdown();
    // Dispatches and requests drain side by side within one timeout, not one after the other: with the job
    // queue's own drain after them, the whole close stays inside main's hard deadline even under overload.
    const deadline = Date.now() + timeoutMs;
    await Promise.all([this.optional(DueScheduleSweeper)?.stop(timeoutMs), this.requestsDone(timeoutMs)]);
    // Creates answered before the signal store their events and audit entries (a marker left behind is
    // finished by the reconcile pass, a minute later).
    const unstored = (await this.optional(ScheduleCreationRelay)?.drain(deadline)) ?? 0;
    if (unstored > 0) this.logger.warn(`shutdown timeout reached with ${unstored} new schedule(s) whose events are left to the reconcile pass`);
    // Simulated calls placed before the signal still end: their remaining status reports go in now, within
    // what is left of the timeout, or 5 s (main's hard deadline leaves room for it).
    this.optional(SimulatedCallProvider)?.flush();
    const left = (await this.optional(CallStatusInbox)?.drain(Math.max(deadline, Date.now() + Math.min(timeoutMs, 5000)))) ?? 0;
    if (left > 0) this.logger.warn(`shutdown timeout reached with ${left} simulated status report(s) still being applied`);
    this.logger.log(`drained in ${Date.now() - (deadline - timeoutMs)} ms; closing the HTTP server`);
  }

  private optional<T>(type: new (...args: never[]) => T): T | null {
    try {
      return this.moduleRef.get(type, { strict: false });
    } catch {
      return null;
    }
  }

  private async requestsDone(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return;
    this.logger.log(`draining: waiting up to ${timeoutMs} ms for ${this.inFlight} request(s) in flight`);
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => this.idle.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!drained) this.logger.warn(`shutdown timeout reached with ${this.inFlight} request(s) still in flight`);
  }
}
