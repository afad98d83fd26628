import { Types } from 'mongoose';
import { RequestValidationException } from '../common/errors/app.exception';

// Where a page of call logs (newest first: timestamp, then _id, both descending) ended. It is opaque to
// clients: base64url of "<timestamp ms>.<log id>".
export interface LogCursor {
  timestamp: Date;
  id: Types.ObjectId;
}

export function encodeLogCursor(timestamp: Date, id: string): string {
  return Buffer.from(`${timestamp.getTime()}.${id}`).toString('base64url');
}

export function decodeLogCursor(cursor: string): LogCursor {
  const match = /^(-?\d{1,15})\.([0-9a-f]{24})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new RequestValidationException('VALIDATION_001', 'cursor', 'cursor must be a next_cursor returned by this endpoint');
  return { timestamp: new Date(Number(match[1])), id: new Types.ObjectId(match[2]) };
}
