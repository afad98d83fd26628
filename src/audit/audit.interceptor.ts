import { CallHandler, ExecutionContext, HttpStatus, Injectable, NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { createHash } from 'node:crypto';
import { from, Observable, throwError } from 'rxjs';
import { catchError, mergeMap } from 'rxjs/operators';
import type { AuthenticatedRequest } from '../auth/auth.decorators';
import { Clock } from '../common/clock/clock';
import { resolveError } from '../common/errors/error-body';
import { requestIdOf } from '../observability/logging/request-id';
import { attachAuditNote, RECORDS_OWN_AUDIT } from './audit.decorators';
import { AuditService } from './audit.service';
import { AuditNote } from './audit.types';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const ID_KEYS = ['id', 'schedule_id', 'campaign_id', 'subscription_id', 'delivery_id', 'entry_id', 'call_log_id'];

function kebab(name: string): string {
  return name.replace(/Controller$/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

// The record a create returned names its target: look one level into the response body.
function idFromBody(body: unknown): string | null {
  if (!body || typeof body !== 'object') return null;
  const record = body as Record<string, unknown>;
  for (const key of ID_KEYS) if (typeof record[key] === 'string') return record[key] as string;
  for (const value of Object.values(record)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const nested = value as Record<string, unknown>;
      for (const key of ID_KEYS) if (typeof nested[key] === 'string') return nested[key] as string;
    }
  }
  return null;
}

function tokenFingerprint(authorization: unknown): string | null {
  const token = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] : undefined;
  return token ? createHash('sha256').update(token).digest('hex').slice(0, 16) : null;
}

function idFromParams(params: Record<string, string> | undefined): string | null {
  if (!params) return null;
  if (typeof params.id === 'string') return params.id;
  const key = Object.keys(params).find((k) => /id$/i.test(k));
  return key ? params[key] : null;
}

// Every state-changing call made with a JWT, whichever module serves it. Webhooks carry no principal and
// are not API calls, so they are left out; so are requests refused before a principal was established.
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = req.principal;
    if (!principal || !STATE_CHANGING.has(req.method)) return next.handle();
    const action = `${kebab(context.getClass().name)}.${context.getHandler().name}`;
    const route = (req.route as { path?: string } | undefined)?.path ?? req.path;
    const base = {
      actor: principal.sub,
      tenant_id: principal.tenantId,
      action,
      method: req.method,
      route: String(route),
      request_id: requestIdOf(req) ?? null,
      token_fingerprint: tokenFingerprint(req.headers.authorization),
    };
    const paramId = idFromParams(req.params as Record<string, string>);
    if (this.reflector.get<boolean>(RECORDS_OWN_AUDIT, context.getHandler())) {
      const successStatus = this.reflector.get<number>(HTTP_CODE_METADATA, context.getHandler()) ?? (req.method === 'POST' ? HttpStatus.CREATED : HttpStatus.OK);
      attachAuditNote(req, { ...base, status_code: successStatus });
      return next.handle().pipe(catchError((error: unknown) => this.failed(error, base, paramId)));
    }
    return next.handle().pipe(
      mergeMap((body: unknown) =>
        from(
          this.audit
            .record({
              ...base,
              at: this.clock.now(),
              target_id: paramId ?? idFromBody(body),
              outcome: 'success',
              status_code: context.switchToHttp().getResponse<{ statusCode: number }>().statusCode,
              error_code: null,
            })
            .then(() => body),
        ),
      ),
      catchError((error: unknown) => this.failed(error, base, paramId)),
    );
  }

  private failed(error: unknown, base: Omit<AuditNote, 'status_code'>, targetId: string | null): Observable<never> {
    const { httpStatus, body } = resolveError(error, this.clock.now());
    return from(
      this.audit.record({ ...base, at: this.clock.now(), target_id: targetId, outcome: 'error', status_code: httpStatus, error_code: body.error_code }),
    ).pipe(mergeMap(() => throwError(() => error)));
  }
}
