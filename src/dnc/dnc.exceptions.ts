import { AppException } from '../common/errors/app.exception';

export class DncEntryNotFoundException extends AppException {
  constructor(key: string) {
    super('DNC_002', { field: 'id', issue: `No do-not-call entry ${key} for this tenant` });
  }
}

export class AlreadyOnDncListException extends AppException {
  constructor(phone: string) {
    super('DNC_003', { field: 'phone', issue: `${phone} is already on the do-not-call list` });
  }
}

export class InvalidDncImportException extends AppException {
  constructor(field: string, issue: string, status?: 'too_large') {
    super(status === 'too_large' ? 'VALIDATION_005' : 'DNC_004', { field, issue }, issue);
  }
}
