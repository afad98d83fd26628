import { AppException } from '../common/errors/app.exception';

export class InvalidDateRangeException extends AppException {
  constructor(start: string, end: string) {
    super('TRACKING_001', { field: 'end_date', issue: `end_date ${end} is before start_date ${start}` });
  }
}
