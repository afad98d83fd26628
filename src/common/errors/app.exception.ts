import { ERROR_CODES, ErrorCode } from './error-codes';

export interface ErrorDetails {
  field: string | null;
  issue: string;
}

// Base of every domain error. Carries a catalogue code; the global filter turns it into the body.
export class AppException extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly details: ErrorDetails = { field: null, issue: ERROR_CODES[code].message },
    message?: string,
  ) {
    super(message ?? ERROR_CODES[code].message);
    this.status = ERROR_CODES[code].status;
    this.name = new.target.name;
  }
}

export class RequestValidationException extends AppException {
  constructor(code: ErrorCode, field: string | null, issue: string) {
    super(code, { field, issue }, issue);
  }
}
