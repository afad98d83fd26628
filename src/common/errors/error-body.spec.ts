import { NotFoundException } from '@nestjs/common';
import { AppException } from './app.exception';
import { resolveError } from './error-body';

const now = new Date('2026-01-01T00:00:00.000Z');

describe('resolveError', () => {
  it('writes a domain exception with its catalogue code', () => {
    const { httpStatus, body } = resolveError(new AppException('SCHEDULE_009', { field: 'schedule_id', issue: 'gone' }), now);
    expect(httpStatus).toBe(404);
    expect(body).toEqual({ status: 'error', message: 'Schedule not found', error_code: 'SCHEDULE_009', details: { field: 'schedule_id', issue: 'gone' }, timestamp: now.toISOString() });
  });

  it('turns an unexpected error into a 500 with an error id and no internals', () => {
    const secret = new Error('connection string mongodb://user:pw@host failed at /srv/app/x.ts:12');
    const { httpStatus, body, internal } = resolveError(secret, now);
    expect(httpStatus).toBe(500);
    expect(body.error_code).toBe('INTERNAL_001');
    expect(body.error_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(body)).not.toContain('mongodb://');
    expect(JSON.stringify(body)).not.toContain('x.ts');
    expect(body.details.issue).toContain(body.error_id);
    expect(internal).toBe(secret);
  });

  it('maps framework 404s to ROUTE_001', () => {
    expect(resolveError(new NotFoundException('Cannot GET /x'), now).body.error_code).toBe('ROUTE_001');
  });
});
