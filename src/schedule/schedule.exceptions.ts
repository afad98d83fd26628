import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { ScheduleStatus } from './schedule.types';

export class ScheduleNotFoundException extends AppException {
  constructor(id: string) {
    super('SCHEDULE_009', { field: 'schedule_id', issue: `No schedule ${id} for this caller` });
  }
}

export class IllegalScheduleTransitionException extends AppException {
  constructor(action: string, status: ScheduleStatus) {
    super('SCHEDULE_010', { field: 'status', issue: `Cannot ${action} a schedule that is ${status}` }, `Cannot ${action} a schedule that is ${status}`);
  }
}

export class ScheduleModifiedConcurrentlyException extends AppException {
  constructor() {
    super('SCHEDULE_012', { field: null, issue: 'The schedule changed while this request ran; read it again and retry' });
  }
}

export class IdempotencyKeyConflictException extends AppException {
  constructor() {
    super('SCHEDULE_011', { field: 'Idempotency-Key', issue: 'This key was already used with a different request body' });
  }
}

export class InvalidScheduleInputException extends AppException {
  constructor(code: ErrorCode, field: string, issue: string) {
    super(code, { field, issue }, issue);
  }
}
