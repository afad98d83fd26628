import { ValidationError, ValidationPipe } from '@nestjs/common';
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

// Every DTO boundary: strip nothing silently; unknown fields and wrong shapes are a 400 that names the field.
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
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
