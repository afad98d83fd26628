import { getConnectionToken } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import request from 'supertest';
import { CallDispatcher } from '../../src/calls/call-dispatcher';
import { DncRepository } from '../../src/dnc/dnc.repository';
import { DncService } from '../../src/dnc/dnc.service';
import { OccurrenceDispatchService } from '../../src/schedule/dispatch/occurrence-dispatch.service';
import { CallLogRepository } from '../../src/tracking/call-log.repository';
import { RecordingCallDispatcher } from '../utils/recording-dispatcher';
import { sweeperIdle } from '../utils/settle';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

const alice = bearer(tokenFor('dnc-alice'));
const bob = bearer(tokenFor('dnc-bob'));

describe('do-not-call list', () => {
  let t: TestApp;
  const recorder = new RecordingCallDispatcher();
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await createTestApp({ override: (b) => b.overrideProvider(CallDispatcher).useValue(recorder) });
  });
  afterAll(() => t.close());

  describe('CRUD', () => {
    it('adds a number in E.164 whatever its notation, refuses a second entry and bad numbers', async () => {
      const res = await http().post('/dnc').set(alice).send({ phone: '+1 (415) 555-2671', reason: 'asked on the phone' }).expect(201);
      expect(res.body.entry).toMatchObject({ phone: '+14155552671', reason: 'asked on the phone', source: 'api', created_by: 'dnc-alice' });
      const again = await http().post('/dnc').set(alice).send({ phone: '+14155552671' }).expect(409);
      expect(again.body).toMatchObject({ status: 'error', error_code: 'DNC_003', details: { field: 'phone' } });
      const bad = await http().post('/dnc').set(alice).send({ phone: '555-2671' }).expect(400);
      expect(bad.body).toMatchObject({ error_code: 'DNC_001', details: { field: 'phone' } });
      const unknown = await http().post('/dnc').set(alice).send({ phone: '+14155552672', note: 'x' }).expect(400);
      expect(unknown.body.error_code).toBe('VALIDATION_003');
      // The same number is another tenant's own business.
      await http().post('/dnc').set(bob).send({ phone: '+14155552671' }).expect(201);
    });

    it('lists with filters and paging, gets and deletes by phone or id, within the tenant only', async () => {
      for (const n of ['+442071838750', '+442071838751', '+61291234567']) await http().post('/dnc').set(alice).send({ phone: n }).expect(201);
      const page = await http().get('/dnc?limit=2&offset=0').set(alice).expect(200);
      expect(page.body).toMatchObject({ status: 'success', total: 4, limit: 2, offset: 0 });
      expect(page.body.entries).toHaveLength(2);
      const page2 = await http().get('/dnc?limit=2&offset=2').set(alice).expect(200);
      expect(new Set([...page.body.entries, ...page2.body.entries].map((e: { phone: string }) => e.phone)).size).toBe(4);
      const uk = await http().get('/dnc?phone_prefix=%2B44').set(alice).expect(200);
      expect(uk.body.entries.map((e: { phone: string }) => e.phone).sort()).toEqual(['+442071838750', '+442071838751']);
      const exact = await http().get(`/dnc?phone=${encodeURIComponent('+61 2 9123 4567')}`).set(alice).expect(200);
      expect(exact.body.total).toBe(1);

      const byPhone = await http().get(`/dnc/${encodeURIComponent('+44 20 7183 8750')}`).set(alice).expect(200);
      const byId = await http().get(`/dnc/${byPhone.body.entry.id}`).set(alice).expect(200);
      expect(byId.body.entry).toEqual(byPhone.body.entry);
      await http().get(`/dnc/${byPhone.body.entry.id}`).set(bob).expect(404);
      expect((await http().get('/dnc').set(bob).expect(200)).body.total).toBe(1);

      await http().delete(`/dnc/${encodeURIComponent('+442071838750')}`).set(alice).expect(200);
      const gone = await http().get(`/dnc/${byPhone.body.entry.id}`).set(alice).expect(404);
      expect(gone.body.error_code).toBe('DNC_002');
      await http().delete(`/dnc/${byId.body.entry.id}`).set(alice).expect(404);
      const removed = await http().get('/dnc?phone_prefix=%2B61').set(alice).expect(200);
      await http().delete(`/dnc/${removed.body.entries[0].id}`).set(alice).expect(200);
      expect((await http().get('/dnc').set(alice).expect(200)).body.total).toBe(2);
      await http().get('/dnc').expect(401);
    });
  });

  describe('import', () => {
    const carol = bearer(tokenFor('dnc-carol'));

    it('imports CSV with per-row reasons, counting duplicates and listing invalid rows', async () => {
      await http().post('/dnc').set(carol).send({ phone: '+14155550100' }).expect(201);
      const csv = [
        'phone,reason',
        '+14155550100,already listed',
        '+14155550101,new',
        '+1 415 555 0102,',
        '+14155550101,repeated in the file',
        'not-a-phone,bad',
        ',empty',
        '+14155550103',
      ].join('\n');
      const res = await http().post('/dnc/import').set(carol).set('Content-Type', 'text/csv').send(csv).expect(200);
      expect(res.body).toMatchObject({ status: 'success', format: 'csv', received: 7, accepted: 3, duplicate: 2, invalid: 2, invalid_rows_truncated: false });
      expect(res.body.invalid_rows).toEqual([
        { row: 5, phone: 'not-a-phone', reason: 'phone is not a valid international number' },
        { row: 6, phone: '', reason: 'phone is required' },
      ]);
      const entry = await http().get('/dnc/%2B14155550101').set(carol).expect(200);
      expect(entry.body.entry).toMatchObject({ reason: 'new', source: 'import' });
      const again = await http().post('/dnc/import').set(carol).set('Content-Type', 'text/csv').send(csv).expect(200);
      expect(again.body).toMatchObject({ accepted: 0, duplicate: 5, invalid: 2 });
    });

    it('imports a JSON array larger than the JSON body limit as a stream', async () => {
      const dave = bearer(tokenFor('dnc-dave'));
      const rows: unknown[] = [];
      for (let i = 0; i < 12_000; i++) rows.push({ phone: `+1212555${String(i % 10_000).padStart(4, '0')}`, reason: `row ${i} ${'x'.repeat(10)}` });
      rows.push({ phone: 12345 }, { reason: 'no phone' }, { phone: '+14155550199', reason: 'r'.repeat(501) });
      const body = JSON.stringify(rows);
      expect(body.length).toBeGreaterThan(256 * 1024);
      const res = await http().post('/dnc/import').set(dave).set('Content-Type', 'application/json').send(body).expect(200);
      expect(res.body).toMatchObject({ format: 'json', received: 12_003, accepted: 10_000, duplicate: 2_000, invalid: 3 });
      expect(res.body.invalid_rows.map((r: { reason: string }) => r.reason)).toEqual([
        'phone is required',
        'phone is required',
        'reason must be a string of at most 500 characters',
      ]);
      expect((await http().get('/dnc?limit=1').set(dave).expect(200)).body.total).toBe(10_000);
    });

    it('reports a row holding a NUL character as invalid and imports the rest', async () => {
      const erin = bearer(tokenFor('dnc-erin'));
      const rows = [{ phone: '+14155550160', reason: 'fine' }, { phone: '+14155550161', reason: 'bad\u0000reason' }];
      const res = await http().post('/dnc/import').set(erin).set('Content-Type', 'application/json').send(JSON.stringify(rows)).expect(200);
      expect(res.body).toMatchObject({ received: 2, accepted: 1, invalid: 1 });
      expect(res.body.invalid_rows).toEqual([{ row: 2, phone: '+14155550161', reason: 'reason must not contain the NUL character (U+0000)' }]);
    });

    it('caps the listed invalid rows but counts them all', async () => {
      const erin = bearer(tokenFor('dnc-erin'));
      const lines = ['phone'];
      for (let i = 0; i < 1500; i++) lines.push(`bad-${i}`);
      const res = await http().post('/dnc/import').set(erin).set('Content-Type', 'text/csv').send(lines.join('\n')).expect(200);
      expect(res.body).toMatchObject({ received: 1500, invalid: 1500, accepted: 0, invalid_rows_truncated: true });
      expect(res.body.invalid_rows).toHaveLength(1000);
    });

    it('rejects a CSV without a phone column, malformed JSON and other content types', async () => {
      const noPhone = await http().post('/dnc/import').set(carol).set('Content-Type', 'text/csv').send('number,reason\n+14155550100,x\n').expect(400);
      expect(noPhone.body).toMatchObject({ error_code: 'DNC_004', details: { field: 'body' } });
      const broken = await http().post('/dnc/import').set(carol).set('Content-Type', 'application/json').send('[{"phone": "+14155550100"},').expect(400);
      expect(broken.body.error_code).toBe('DNC_004');
      const xml = await http().post('/dnc/import').set(carol).set('Content-Type', 'application/xml').send('<a/>').expect(400);
      expect(xml.body).toMatchObject({ error_code: 'DNC_004', details: { field: 'Content-Type' } });
    });
  });

  describe('dialing', () => {
    it('skips a dial to a listed number: skipped_dnc, no call log, nothing reaches the provider', async () => {
      const frank = bearer(tokenFor('dnc-frank'));
      const blocked = '+14155550300';
      const allowed = '+14155550301';
      await http().post('/dnc/import').set(frank).set('Content-Type', 'application/json').send([{ phone: blocked, reason: 'opted out' }]).expect(200);
      // Another tenant listing `allowed` does not block frank's call to it.
      await http().post('/dnc').set(alice).send({ phone: allowed }).expect(201);
      const due = new Date(Date.now() + 1500).toISOString();
      const blockedId = (await http().post('/schedule/').set(frank).send({ phone: blocked, scheduled_time: due }).expect(200)).body.schedule_id;
      const allowedId = (await http().post('/schedule/').set(frank).send({ phone: allowed, scheduled_time: due }).expect(200)).body.schedule_id;

      const skipped = await waitFor(async () => {
        const s = (await http().get(`/schedule/${blockedId}`).set(frank).expect(200)).body.schedule;
        return s.status === 'completed' ? s : null;
      }, 20_000);
      expect(skipped.last_call_status).toBe('skipped_dnc');
      expect(skipped.events.find((e: { type: string }) => e.type === 'skipped_dnc')).toMatchObject({ level: 'warn', data: { reason: 'dnc', attempt_number: 1 } });
      await waitFor(async () => (recorder.dials.some((d) => d.scheduleId === allowedId) ? true : null), 20_000);
      // Every dispatch the sweeper started is over, and dispatching the blocked schedule again dials nothing.
      await sweeperIdle(t);
      expect((await t.get<OccurrenceDispatchService>(OccurrenceDispatchService).dispatchDue(blockedId)).outcome).toBe('inactive');
      expect(recorder.dials.filter((d) => d.phone === blocked)).toHaveLength(0);
      expect(await t.get<CallLogRepository>(CallLogRepository).findForSchedule(blockedId)).toHaveLength(0);
    });

    it('answers isBlocked and findBlocked per tenant in any notation', async () => {
      const dnc = t.get<DncService>(DncService);
      expect(await dnc.isBlocked('dnc-frank', '+1 415-555-0300')).toBe(true);
      expect(await dnc.isBlocked('dnc-alice', '+14155550300')).toBe(false);
      const blocked = await dnc.findBlocked('dnc-frank', ['+1 415 555 0300', '+14155550301', 'garbage']);
      expect([...blocked].sort()).toEqual(['+1 415 555 0300', '+14155550300']);
    });
  });

  // Each instance holds a tenant's list in memory and reads the list's version before it trusts that copy:
  // a change made through another instance is seen by the next check there.
  describe('the dial-time check across instances', () => {
    const gina = bearer(tokenFor('dnc-gina'));
    let other: TestApp;
    const otherHttp = () => request(other.app.getHttpServer());
    const blocked = (phone: string) => t.get<DncService>(DncService).isBlocked('dnc-gina', phone);

    beforeAll(async () => {
      other = await createTestApp({ config: { ...t.config, scheduler: { ...t.config.scheduler, enabled: false } } });
    });
    afterAll(() => other.close());

    it('sees an add, a removal and an import made through another instance at its next check', async () => {
      expect(await blocked('+14155550400')).toBe(false);
      // The first instance holds the (empty) list now; the second changes it.
      const added = await otherHttp().post('/dnc').set(gina).send({ phone: '+14155550400' }).expect(201);
      expect(await blocked('+1 415 555 0400')).toBe(true);

      await otherHttp().delete(`/dnc/${added.body.entry.id}`).set(gina).expect(200);
      expect(await blocked('+14155550400')).toBe(false);

      await otherHttp().post('/dnc/import').set(gina).set('Content-Type', 'text/csv').send('phone\n+14155550401\n+14155550402').expect(200);
      const checks = await Promise.all(['+14155550400', '+14155550401', '+14155550402'].map(blocked));
      expect(checks).toEqual([false, true, true]);
    });

    it('an add whose version write failed: the client retry answers 409 and writes the version, so the number is blocked', async () => {
      expect(await blocked('+14155550405')).toBe(false);
      const repo = other.get<DncRepository>(DncRepository);
      const write = jest.spyOn(repo as unknown as { listChanged: () => Promise<void> }, 'listChanged').mockRejectedValueOnce(new Error('database unavailable'));
      try {
        await otherHttp().post('/dnc').set(gina).send({ phone: '+14155550405' }).expect(500);
      } finally {
        write.mockRestore();
      }
      await otherHttp().post('/dnc').set(gina).send({ phone: '+14155550405' }).expect(409);
      expect(await blocked('+14155550405')).toBe(true);
    });

    it("a tenant's first checks at once share one insert of its list's version", async () => {
      const repo = t.get<DncRepository>(DncRepository);
      const creates = jest.spyOn(repo, 'createVersionIfAbsent');
      try {
        const dnc = t.get<DncService>(DncService);
        const checks = await Promise.all(Array.from({ length: 30 }, (_, i) => dnc.isBlocked('dnc-first-burst', `+1415555${String(600 + i).padStart(4, '0')}`)));
        expect(checks).toEqual(checks.map(() => false));
        expect(creates).toHaveBeenCalledTimes(1);
      } finally {
        creates.mockRestore();
      }
      expect(await t.get<Connection>(getConnectionToken()).collection('dnc_versions').countDocuments({ _id: 'dnc-first-burst' as never })).toBe(1);
    });

    it('a list stored before versions existed is read whole at the first check', async () => {
      await otherHttp().post('/dnc').set(gina).send({ phone: '+14155550403' }).expect(201);
      // As a release before versions left it: entries, and no version.
      await t.get<Connection>(getConnectionToken()).collection('dnc_versions').deleteOne({ _id: 'dnc-gina' as never });
      const fresh = await createTestApp({ config: { ...t.config, scheduler: { ...t.config.scheduler, enabled: false } } });
      try {
        expect(await fresh.get<DncService>(DncService).isBlocked('dnc-gina', '+14155550403')).toBe(true);
        expect(await fresh.get<DncService>(DncService).isBlocked('dnc-gina', '+14155550404')).toBe(false);
      } finally {
        await fresh.close();
      }
    });
  });
});
