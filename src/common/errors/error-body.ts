import { randomUUID } from 'node:crypto';
import { ERROR_CODES, ErrorCode } from './error-codes';
import { AppException, ErrorDetails } from './app.exception';

export interface ErrorBody {
  status: 'error';
  message: string;
  error_code: ErrorCode;
  details: ErrorDetails;
  timestamp: string;
  error_id?: string;
}

export interface ResolvedError {
  httpStatus: number;
  body: ErrorBody;
  internal?: unknown;
}

function body(code: ErrorCode, message: string, details: ErrorDetails, now: Date, errorId?: string): ErrorBody {
  return {
    status: 'error',
    message,
    error_code: code,
    details,
    timestamp: now.toISOString(),
    ...(errorId ? { error_id: errorId } : {}),
  };
}

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'VALIDATION_001',
  401: 'AUTH_002',
  403: 'AUTH_005',
  404: 'ROUTE_001',
  405: 'HTTP_001',
  413: 'VALIDATION_005',
  429: 'RATE_001',
  503: 'SERVICE_001',
};

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  getStatus?: () => number;
  message?: string;
  cause?: { type?: string };
}

// Maps anything thrown to the one error body. Unexpected errors become a 500 with an error id and
// no internals; the id is what operators grep for in the log. Given the request's id, every body carries
// it as error_id, so any error a client quotes leads to that request's log lines.
export function resolveError(error: unknown, now: Date, requestId?: string): ResolvedError {
  const resolved = resolveWithoutId(error, now, requestId);
  if (requestId && !resolved.body.error_id) resolved.body.error_id = requestId;
  return resolved;
}

function resolveWithoutId(error: unknown, now: Date, requestId?: string): ResolvedError {
  if (error instanceof AppException) {
    return { httpStatus: error.status, body: body(error.code, error.message, error.details, now) };
  }
  const e = (error ?? {}) as HttpLikeError;
  const status = typeof e.getStatus === 'function' ? e.getStatus() : (e.status ?? e.statusCode);
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Nest wraps body-parser's errors; the parser's error type survives on the cause.
    const type = e.type ?? e.cause?.type;
    if (type === 'entity.parse.failed' || e.cause instanceof SyntaxError) {
      return {
        httpStatus: 400,
        body: body('VALIDATION_004', 'Malformed request body', { field: null, issue: 'Body could not be parsed' }, now),
      };
    }
    if (type === 'entity.too.large') {
      return {
        httpStatus: 413,
        body: body('VALIDATION_005', 'Request body too large', { field: null, issue: 'Body exceeds the size limit' }, now),
      };
    }
    const code = STATUS_CODES[status] ?? 'VALIDATION_001';
    const message = status === 404 ? 'Route not found' : (e.message ?? ERROR_CODES[code].message);
    return {
      httpStatus: status,
      body: body(code, message, { field: null, issue: message }, now),
    };
  }
  if (status === 503) {
    return { httpStatus: 503, body: body('SERVICE_001', 'Service unavailable', { field: null, issue: e.message ?? 'unavailable' }, now) };
  }
  const errorId = requestId ?? randomUUID();
  return {
    httpStatus: 500,
    body: body('INTERNAL_001', 'Internal server error', { field: null, issue: `Unexpected error; quote error_id ${errorId}` }, now, errorId),
    internal: error,
  };
}
