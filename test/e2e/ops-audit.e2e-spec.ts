import { createHash } from 'node:crypto';
import request from 'supertest';
import { AuditCleanupJob } from '../../src/audit/audit-cleanup.job';
import { AuditRepository } from '../../src/audit/audit.repository';
import { JobQueueService } from '../../src/jobs/job-queue.service';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

describe('audit trail (ops e2e)', () => {
  const aliceToken = tokenFor('audit-alice', { tenantId: 'acme' });
  const alice = bearer(aliceToken);
  const admin = bearer(tokenFor('audit-admin', { roles: ['admin'] }));
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { AUDIT_RETENTION_DAYS: '30' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('records every state-changing call with actor, tenant, action, target, request id and outcome', async () => {
    const server = t.app.getHttpServer();
    const created = await request(server).post('/schedule/').set(alice).set('X-Request-Id', 'audit-create-1').send({ phone: '+14155552671', scheduled_time: new Date(Date.now() + 3_600_000).toISOString() }).expect(200);
    const id = created.body.schedule_id as string;
    await request(server).post(`/schedule/${id}/pause`).set(alice).expect(200);
    await request(server).post(`/schedule/${id}/pause`).set(alice).expect(409);
    await request(server).get(`/schedule/${id}`).set(alice).expect(200);
    await request(server).delete('/schedule/0123456789abcdef01234567').set(alice).expect(404);
    await request(server).post('/webhook/call-status').type('form').send({ CallSid: 'CA1', CallStatus: 'ringing' }).expect(403);

    // The create's own entry is stored with its events, after its answer.
    const res = await waitFor(async () => {
      const page = await request(server).get('/audit').query({ actor: 'audit-alice' }).set(admin).expect(200);
      return page.body.total === 4 && page;
    }, 10_000);
    expect(res.body).toMatchObject({ status: 'success', total: 4, limit: 50, offset: 0 });
    const [notFound, conflict, paused, create] = res.body.entries;
    expect(create).toMatchObject({ actor: 'audit-alice', tenant_id: 'acme', action: 'schedule.create', method: 'POST', target_id: id, request_id: 'audit-create-1', outcome: 'success', status_code: 200, error_code: null });
    expect(create.token_fingerprint).toBe(createHash('sha256').update(aliceToken).digest('hex').slice(0, 16));
    expect(paused).toMatchObject({ action: 'schedule.pause', route: '/schedule/:id/pause', target_id: id, outcome: 'success', status_code: 200 });
    expect(conflict).toMatchObject({ action: 'schedule.pause', target_id: id, outcome: 'error', status_code: 409, error_code: 'SCHEDULE_010' });
    expect(notFound).toMatchObject({ method: 'DELETE', target_id: '0123456789abcdef01234567', outcome: 'error', status_code: 404 });
    for (const e of res.body.entries) expect(Date.parse(e.at)).toBeGreaterThan(Date.now() - 60_000);
    // Reads and webhooks are not audited.
    const everything = await request(server).get('/audit').set(admin).expect(200);
    expect(everything.body.entries.every((e: { method: string; route: string }) => e.method !== 'GET' && !e.route.startsWith('/webhook'))).toBe(true);
  });

  it('filters by action, target, outcome and time, and pages', async () => {
    const server = t.app.getHttpServer();
    const errors = await request(server).get('/audit').query({ outcome: 'error', actor: 'audit-alice' }).set(admin).expect(200);
    expect(errors.body.total).toBe(2);
    const pauses = await request(server).get('/audit').query({ action: 'schedule.pause' }).set(admin).expect(200);
    expect(pauses.body.entries.map((e: { status_code: number }) => e.status_code).sort()).toEqual([200, 409]);
    const target = pauses.body.entries[0].target_id as string;
    const forTarget = await request(server).get('/audit').query({ target_id: target }).set(admin).expect(200);
    expect(forTarget.body.total).toBe(3);
    const page = await request(server).get('/audit').query({ actor: 'audit-alice', limit: 1, offset: 1 }).set(admin).expect(200);
    expect(page.body).toMatchObject({ total: 4, limit: 1, offset: 1 });
    expect(page.body.entries).toHaveLength(1);
    const future = await request(server).get('/audit').query({ from: new Date(Date.now() + 60_000).toISOString() }).set(admin).expect(200);
    expect(future.body.total).toBe(0);
    const bad = await request(server).get('/audit').query({ outcome: 'maybe' }).set(admin).expect(400);
    expect(bad.body).toMatchObject({ status: 'error', details: { field: 'outcome' } });
    await request(server).get('/audit').query({ nope: '1' }).set(admin).expect(400);
  });

  it('is for admins only', async () => {
    await request(t.app.getHttpServer()).get('/audit').expect(401);
    const res = await request(t.app.getHttpServer()).get('/audit').set(alice).expect(403);
    expect(res.body.error_code).toBe('AUTH_005');
  });

  it('drops entries past AUDIT_RETENTION_DAYS in the cleanup job and keeps the rest', async () => {
    const repo = t.get<AuditRepository>(AuditRepository);
    const old = new Date(Date.now() - 31 * 24 * 3600 * 1000);
    await repo.append({ at: old, actor: 'old-actor', tenant_id: 'acme', action: 'schedule.create', method: 'POST', route: '/schedule', target_id: null, request_id: null, token_fingerprint: null, outcome: 'success', status_code: 201, error_code: null });
    expect((await repo.findPage({ actor: 'old-actor' }, 10, 0)).total).toBe(1);
    const outcome = await t.get<AuditCleanupJob>(AuditCleanupJob).handle();
    expect(outcome.outcome).toBe('removed_1');
    expect((await repo.findPage({ actor: 'old-actor' }, 10, 0)).total).toBe(0);
    expect((await repo.findPage({ actor: 'audit-alice' }, 10, 0)).total).toBe(4);
  });

  it('schedules the cleanup as a daily Agenda job', async () => {
    const jobs = await waitFor(async () => {
      const found = await t.get<JobQueueService>(JobQueueService).agendaForAdminView().queryJobs({ name: 'audit.cleanup' });
      return found.jobs.length > 0 ? found.jobs : null;
    }, 5000);
    expect(jobs[0].repeatInterval).toBe('1 day');
  });
});
