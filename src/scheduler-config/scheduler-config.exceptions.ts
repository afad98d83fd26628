import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';

export class SchedulerRequestException extends AppException {
  constructor(code: ErrorCode, field: string | null, issue: string) {
    super(code, { field, issue }, issue);
  }
}
