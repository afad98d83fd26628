import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { AuditNote } from './audit.types';

export const RECORDS_OWN_AUDIT = 'audit:records-own';
const NOTE = Symbol('audit-note');

// The handler writes its success entry itself (with its change's outbox), from the note @AuditNoteOf
// gives it; the interceptor still writes the entry of a request that fails.
export const RecordsOwnAudit = () => SetMetadata(RECORDS_OWN_AUDIT, true);

export function attachAuditNote(req: object, note: AuditNote): void {
  (req as Record<symbol, AuditNote>)[NOTE] = note;
}

// The request's note, or undefined when no principal made it (then nothing is audited).
export const AuditNoteOf = createParamDecorator((_: unknown, ctx: ExecutionContext): AuditNote | undefined => {
  return ctx.switchToHttp().getRequest<Record<symbol, AuditNote | undefined>>()[NOTE];
});
