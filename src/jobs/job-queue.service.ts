import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Agenda, Job } from 'agenda';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { MongoBackend, MongoJobRepository, ObjectId } from '@agendajs/mongo-backend';
import { AppConfig } from '../config/app-config';

export type JobHandler<T> = (data: T, job: Job<T>) => Promise<JobOutcome>;

// What a handler decided. Re-arming (runAt) replaces the job's next run; null leaves it idle.
export interface JobOutcome {
  outcome: string;
  nextRunAt?: Date | null;
}

export interface DefineOptions {
  concurrency?: number;
  retryDelayMs?: number;
  lockLifetimeMs?: number;
  priority?: number;
}

export const AGENDA_COLLECTION = 'agenda_jobs';
const RELEASE_LIMIT_MS = 5000;

// The only place that talks to Agenda. It is given a connection string rather than mongoose's Db:
// the backend can carry its own mongodb driver and BSON objects from two copies don't mix.
@Injectable()
export class JobQueueService implements OnApplicationShutdown {
  private readonly logger = new Logger(JobQueueService.name);
  private readonly agenda: Agenda;
  private readonly backend: MongoBackend;
  private started = false;
  private draining = false;

  constructor(private readonly config: AppConfig) {
    if (!config.mongodbUri) throw new Error('MONGODB_URI must be resolved before the job queue starts');
    this.backend = new MongoBackend({ address: config.mongodbUri, options: { socketTimeoutMS: config.mongodbSocketTimeoutMs }, collection: AGENDA_COLLECTION, ensureIndex: true });
    this.agenda = new Agenda({
      backend: this.backend,
      // Each lock is stamped with this name (lastModifiedBy): a drain releases only what this process still
      // holds. Host and pid alone repeat (pid 1 in every container sharing the host's network).
      name: `call-scheduler-${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      // Agenda carries retries, deferrals, webhook deliveries and periodic maintenance; due schedules are
      // swept by DueScheduleSweeper. Each Agenda poll is a write transaction scanning its collection on
      // FerretDB, so it polls rarely.
      processEvery: config.scheduler.jobPollIntervalMs,
      maxConcurrency: config.scheduler.concurrency,
      defaultConcurrency: config.scheduler.concurrency,
      defaultLockLimit: config.scheduler.concurrency,
      lockLimit: config.scheduler.concurrency,
      defaultLockLifetime: config.scheduler.lockLifetimeMs,
    });
    this.agenda.on('error', (error: Error) => this.logger.error(`agenda: ${error.message}`));
    this.guardFireAndForgetUnlock();
  }

  // Agenda calls unlockJob without awaiting it; a busy or unreachable database then rejects unhandled and
  // Node exits the process. A lock left behind expires after its lifetime, so a failed unlock is only logged.
  private guardFireAndForgetUnlock(): void {
    const repository = this.backend.repository as { unlockJob(job: unknown): Promise<void> };
    const unlock = repository.unlockJob.bind(repository);
    repository.unlockJob = (job: unknown) =>
      unlock(job).catch((error: unknown) => this.logger.warn(`agenda: unlock failed, the lock will expire: ${error instanceof Error ? error.message : String(error)}`));
  }

  define<T>(name: string, handler: JobHandler<T>, options: DefineOptions = {}): void {
    this.agenda.define<T>(
      name,
      async (job: Job<T>) => {
        let result: JobOutcome;
        try {
          result = await handler(job.attrs.data, job);
        } catch (error) {
          // Handlers are idempotent (dispatch is guarded by its claim), so a transient failure such as a
          // busy database is retried soon instead of leaving the job idle until the reconciler finds it.
          const delay = options.retryDelayMs ?? 2000;
          this.logger.warn(`${name} ${job.attrs._id?.toString()} failed, retrying in ${delay} ms: ${error instanceof Error ? error.message : String(error)}`);
          result = { outcome: 'retry_after_error', nextRunAt: new Date(Date.now() + delay) };
        }
        // Agenda persists nextRunAt after the handler returns; setting it here is how a handler re-arms
        // its own job without racing Agenda's save.
        if (result.nextRunAt !== undefined) job.attrs.nextRunAt = result.nextRunAt;
        this.logger.debug(`${name} ${job.attrs._id?.toString()} -> ${result.outcome}`);
      },
      {
        concurrency: options.concurrency,
        lockLifetime: options.lockLifetimeMs,
        priority: options.priority,
      },
    );
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.agenda.start();
    this.started = true;
  }

  // For the admin job view (Agendash) only; everything else goes through this service's methods.
  agendaForAdminView(): Agenda {
    return this.agenda;
  }

  isRunning(): boolean {
    return this.started && !this.draining;
  }

  async createJob<T extends object>(name: string, data: T, runAt: Date | null): Promise<string> {
    const job = this.agenda.create<T>(name, data);
    job.attrs.nextRunAt = runAt;
    await job.save();
    return job.attrs._id!.toString();
  }

  // Moves a known job by its id: a primary-key update, where a lookup by data field scans the collection
  // on FerretDB. Also re-enables it.
  async rescheduleJob<T extends object>(name: string, jobId: string, data: T, runAt: Date | null): Promise<void> {
    const job = this.agenda.create<T>(name, data);
    (job.attrs as { _id?: unknown })._id = jobId;
    job.attrs.nextRunAt = runAt;
    job.attrs.disabled = false;
    await job.save();
  }

  async removeById(jobId: string): Promise<void> {
    await this.agenda.cancel({ id: jobId });
  }

  // One job per (name, key): creates it, or moves the existing one to runAt (null = idle).
  async upsertUnique<T extends object>(name: string, key: Record<string, string>, data: T, runAt: Date | null): Promise<string> {
    const job = this.agenda.create<T>(name, data);
    const unique: Record<string, string> = {};
    for (const [k, v] of Object.entries(key)) unique[`data.${k}`] = v;
    job.unique(unique, { insertOnly: false });
    job.attrs.nextRunAt = runAt;
    job.attrs.disabled = false;
    await job.save();
    return job.attrs._id!.toString();
  }

  // One job per (name, key), created at runAt when missing; an existing one keeps its schedule.
  async insertUniqueIfAbsent<T extends object>(name: string, key: Record<string, string>, data: T, runAt: Date | null): Promise<void> {
    const job = this.agenda.create<T>(name, data);
    const unique: Record<string, string> = {};
    for (const [k, v] of Object.entries(key)) unique[`data.${k}`] = v;
    job.unique(unique, { insertOnly: true });
    job.attrs.nextRunAt = runAt;
    await job.save();
  }

  async removeAll(name: string): Promise<number> {
    return this.agenda.cancel({ name });
  }

  async every(interval: string, name: string, data: Record<string, unknown> = {}): Promise<void> {
    await this.agenda.every(interval, name, data, { skipImmediate: true });
  }

  // SIGTERM: take no new jobs, let running ones finish within the timeout, then release every lock this process
  // still holds. Agenda's drain releases none: jobs it locked ahead of their run time (all those due within
  // the next poll) and runs past the timeout would stay locked for SCHEDULER_LOCK_LIFETIME_MS (10 min), so a
  // deploy would hold back deferred dials and retries past their misfire grace.
  async drain(timeoutMs: number): Promise<void> {
    if (!this.started || this.draining) return;
    this.draining = true;
    // Agenda's own record of the jobs this process holds, read after its drain (which drops it): a job leaves
    // it when its run completes, so what is left is exactly what this process locked and did not finish.
    const processor = (this.agenda as unknown as { jobProcessor?: { lockedJobs?: Job[] } }).jobProcessor;
    try {
      const result = await this.agenda.drain({ timeout: timeoutMs, closeConnection: false });
      this.logger.log(`job queue drained: ${JSON.stringify(result)}`);
      const held = [...new Set((processor?.lockedJobs ?? []).map((job) => String(job.attrs._id)))];
      if (held.length > 0) {
        // A run still going past the timeout is abandoned with the process: its claim, not this lock, keeps it
        // from being done twice. Only locks still stamped with this process's name are released: one that
        // expired and was taken by another instance meanwhile stays theirs. Time-boxed: with the database
        // away the locks expire as before, and shutdown goes on within main's deadline.
        const release = (this.backend.repository as MongoJobRepository).collection.updateMany(
          { _id: { $in: held.map((id) => new ObjectId(id)) }, lastModifiedBy: this.agenda.attrs.name },
          { $unset: { lockedAt: true } },
        );
        const released = await Promise.race([release.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), RELEASE_LIMIT_MS).unref())]);
        this.logger.log(released ? `released ${held.length} job lock(s) held by this process` : `could not release ${held.length} job lock(s) within ${RELEASE_LIMIT_MS} ms: they expire`);
      }
    } catch (error) {
      // Closing the backend can interrupt Agenda's own in-flight polls; shutdown goes on regardless.
      this.logger.warn(`job queue drain ended with: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await this.backend.disconnect().catch(() => undefined);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.started) await this.drain(this.config.scheduler.shutdownTimeoutMs);
    else {
      // stop() only disconnects an agenda that was started; an API-only instance closes the backend itself.
      await this.agenda.ready.catch(() => undefined);
      await this.backend.disconnect().catch(() => undefined);
    }
  }
}
