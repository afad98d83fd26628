import { getConnectionToken } from '@nestjs/mongoose';
import { Connection, Types } from 'mongoose';
import { JobOutcome, JobQueueService } from '../../src/jobs/job-queue.service';
import { CALL_DEFERRED_JOB } from '../../src/schedule/schedule.constants';
import { createTestApp, TestApp } from '../utils/test-app';
import { testConfig, testDatabaseUri } from '../utils/test-config';
import { waitFor } from '../utils/wait';

// What an instance's shutdown leaves in agenda_jobs. Agenda's own drain releases no lock: every job it took
// ahead of its run time, and a run past the timeout, stayed locked for SCHEDULER_LOCK_LIFETIME_MS (10 min),
// so no other instance could run them meanwhile.
describe('job locks at shutdown (e2e)', () => {
  const MONGODB_URI = testDatabaseUri();
  let reader: TestApp;
  let db: Connection;
  const jobDoc = (id: string) => db.collection('agenda_jobs').findOne({ _id: new Types.ObjectId(id) });

  beforeAll(async () => {
    const config = testConfig({ MONGODB_URI });
    reader = await createTestApp({ config: { ...config, scheduler: { ...config.scheduler, enabled: false } }, listen: false });
    db = reader.get<Connection>(getConnectionToken());
  });
  afterAll(async () => {
    await reader.close();
  });

  it('releases a job it locked ahead of its run time, which then never ran here', async () => {
    // Due well inside the first poll's window (now + SCHEDULER_JOB_POLL_INTERVAL_MS), and well after the close.
    const runAt = new Date(Date.now() + 5 * 60_000);
    const payload = { schedule_id: new Types.ObjectId().toHexString(), occurrence_at: runAt.toISOString(), attempt_number: 1, deferral: 1, run_at: runAt.toISOString() };
    const id = await reader.get<JobQueueService>(JobQueueService).createJob(CALL_DEFERRED_JOB, payload, runAt);

    const worker = await createTestApp({ env: { MONGODB_URI, SCHEDULER_JOB_POLL_INTERVAL_MS: '600000' }, listen: false });
    try {
      await waitFor(async () => (await jobDoc(id))?.lockedAt, 10_000, 50);
    } finally {
      await worker.close();
    }

    const after = await jobDoc(id);
    expect(after).toMatchObject({ name: CALL_DEFERRED_JOB, nextRunAt: runAt });
    expect(after?.lockedAt ?? null).toBeNull();
    expect(after?.lastRunAt ?? null).toBeNull();
  }, 60_000);

  it('releases the lock of a run still going when the drain times out', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const worker = await createTestApp({ env: { MONGODB_URI, SCHEDULER_SHUTDOWN_TIMEOUT_MS: '1000' }, listen: false });
    let closed = false;
    try {
      const jobs = worker.get<JobQueueService>(JobQueueService);
      jobs.define('test.held', async (): Promise<JobOutcome> => {
        started++;
        await held;
        return { outcome: 'done', nextRunAt: null };
      });
      const id = await jobs.createJob('test.held', {}, new Date());
      await waitFor(async () => started === 1, 10_000, 20);
      expect((await jobDoc(id))?.lockedAt).toBeInstanceOf(Date);

      await worker.close();
      closed = true;

      const after = await jobDoc(id);
      expect(after?.lockedAt ?? null).toBeNull();
      expect(after?.lastRunAt).toBeInstanceOf(Date);
    } finally {
      release();
      if (!closed) await worker.close();
    }
  }, 60_000);
});
