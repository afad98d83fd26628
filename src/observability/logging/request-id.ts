import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export type RequestWithId = Request & { id?: string };

// An incoming X-Request-Id is kept when it looks like an id (a proxy's or a client's correlation id);
// anything else is replaced, so a header can never inject text into the logs.
export function requestIdFor(header: unknown): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

export function requestIdMiddleware(req: RequestWithId, res: Response, next: NextFunction): void {
  req.id = requestIdFor(req.headers[REQUEST_ID_HEADER]);
  res.setHeader('X-Request-Id', req.id);
  next();
}

export function requestIdOf(req: unknown): string | undefined {
  const id = (req as RequestWithId | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}
