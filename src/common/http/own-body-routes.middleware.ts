import type { NextFunction, Request, Response } from 'express';
import { RequestValidationException } from '../errors/app.exception';

// Routes that read their own body: the contact and DNC imports stream up to 100,000 rows, and
// /schedule/bulk parses up to 10,000 schedules, all far past the global JSON limit. Registered before the
// body parsers: it moves the content type aside so that they skip the request.
// The agent backend's callback reads its raw body to check the signature over it.
const OWN_BODY_ROUTES = [/^\/campaigns\/[^/]+\/contacts\/?$/, /^\/dnc\/import\/?$/, /^\/schedule\/bulk\/?$/, /^\/webhook\/agent-backend\/call-status\/?$/];
const STREAMED_CONTENT_TYPE = 'x-streamed-content-type';

export function ownBodyRoutes(req: Request, _res: Response, next: NextFunction): void {
  if (req.method === 'POST' && req.headers['content-type'] && OWN_BODY_ROUTES.some((route) => route.test(req.url.split('?')[0]))) {
    req.headers[STREAMED_CONTENT_TYPE] = req.headers['content-type'];
    delete req.headers['content-type'];
  }
  next();
}

export function ownBodyContentType(req: Request): string {
  return String(req.headers[STREAMED_CONTENT_TYPE] ?? req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

// Reads an own-body route's JSON with its own size limit (the global parser's limit is far smaller).
export async function readOwnJsonBody(req: Request, limitBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new RequestValidationException('VALIDATION_005', null, `Body exceeds ${limitBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RequestValidationException('VALIDATION_004', null, 'Body could not be parsed as JSON');
  }
}
