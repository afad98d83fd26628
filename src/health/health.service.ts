import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import { JobQueueService } from '../jobs/job-queue.service';
import { ShutdownDrain } from './shutdown-drain.service';

export interface ComponentStatus {
  status: 'up' | 'down';
  detail?: string;
}

@Injectable()
export class HealthService {
  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly jobs: JobQueueService,
    private readonly drain: ShutdownDrain,
  ) {}

  async readiness(): Promise<{ ready: boolean; components: Record<string, ComponentStatus> }> {
    if (this.drain.isDraining()) {
      const down: ComponentStatus = { status: 'down', detail: 'shutting down' };
      return { ready: false, components: { shutdown: down } };
    }
    const database = await this.pingDatabase();
    const scheduler: ComponentStatus = this.jobs.isRunning() ? { status: 'up' } : { status: 'down', detail: 'job scheduler is not running' };
    return { ready: database.status === 'up' && scheduler.status === 'up', components: { database, scheduler } };
  }

  private async pingDatabase(): Promise<ComponentStatus> {
    const db = this.connection.db;
    if (!db || this.connection.readyState !== 1) return { status: 'down', detail: 'not connected' };
    try {
      await Promise.race([
        db.command({ ping: 1 }),
        new Promise((_, reject) => setTimeout(() => reject(new Error('ping timed out after 2000 ms')), 2000).unref()),
      ]);
      return { status: 'up' };
    } catch (error) {
      return { status: 'down', detail: error instanceof Error ? error.message : String(error) };
    }
  }
}
