import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { RequestValidationException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-codes';

interface FirstProblem {
  field: string;
  issue: string;
  code: ErrorCode;
}

function firstProblem(errors: ValidationError[], prefix = ''): FirstProblem | null {
  for (const error of errors) {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints && Object.keys(error.constraints).length > 0) {
      const [constraint, issue] = Object.entries(error.constraints)[0];
      const contextCode = error.contexts?.[constraint]?.errorCode as ErrorCode | undefined;
      let code: ErrorCode = contextCode ?? 'VALIDATION_001';
      if (constraint === 'whitelistValidation') code = 'VALIDATION_003';
      else if (error.value === undefined || error.value === null) code = 'VALIDATION_002';
      return { field, issue: constraint === 'whitelistValidation' ? `${field} is not an accepted field` : issue, code };
    }
    const nested = firstProblem(error.children ?? [], field);
    if (nested) return nested;
  }
  return null;
}

const MAX_DEPTH = 32;
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

// Walked without recursion, before class-transformer sees the input: it recurses once per level (a body
// nested deeply enough overflowed the stack, a 500) and silently drops a JSON `__proto__` key (which then
// escaped the unknown-field and free-object checks). NUL is refused in every string and key: PostgreSQL's
// jsonb cannot hold it, so FerretDB's PostgreSQL handler fails the whole write (a 500) where MongoDB stores it.
export function structuralProblem(value: unknown): FirstProblem | null {
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  while (pending.length > 0) {
    const { value: v, path, depth } = pending.pop()!;
    if (typeof v === 'string' && v.includes('\u0000')) return { field: path, issue: `${path || 'value'} must not contain the NUL character (U+0000)`, code: 'VALIDATION_001' };
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_DEPTH) return { field: path, issue: `nested more than ${MAX_DEPTH} levels deep`, code: 'VALIDATION_004' };
    for (const key of Object.keys(v)) {
      const field = path ? `${path}.${key}` : key;
      if (PROTOTYPE_KEYS.has(key)) return { field, issue: `${field} is not an accepted field`, code: 'VALIDATION_003' };
      if (key.includes('\u0000')) return { field, issue: 'a field name must not contain the NUL character (U+0000)', code: 'VALIDATION_001' };
      pending.push({ value: (v as Record<string, unknown>)[key], path: field, depth: depth + 1 });
    }
  }
  return null;
}

class RequestValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query') {
      const problem = structuralProblem(value);
      if (problem) throw new RequestValidationException(problem.code, problem.field || null, problem.issue);
    }
    return super.transform(value, metadata);
  }
}

// Every DTO boundary: strip nothing silently; unknown fields and wrong shapes are a 400 that names the field.
export function createValidationPipe(): ValidationPipe {
  return new RequestValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => {
      const problem = firstProblem(errors) ?? { field: '', issue: 'Invalid request', code: 'VALIDATION_001' as ErrorCode };
      return new RequestValidationException(problem.code, problem.field || null, problem.issue);
    },
  });
}
