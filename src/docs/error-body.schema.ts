import { ApiProperty } from '@nestjs/swagger';
import { ERROR_CODES } from '../common/errors/error-codes';

export class ErrorDetailsSchema {
  @ApiProperty({ type: String, nullable: true, example: 'phone', description: 'The offending field or header, or null' })
  field: string | null;

  @ApiProperty({ example: 'phone must be a valid international phone number' })
  issue: string;
}

// The one error shape every route answers with (src/common/errors/error-body.ts).
export class ErrorBodySchema {
  @ApiProperty({ enum: ['error'], example: 'error' })
  status: 'error';

  @ApiProperty({ example: 'Invalid phone number' })
  message: string;

  @ApiProperty({ enum: Object.keys(ERROR_CODES), example: 'SCHEDULE_001', description: 'Stable code; clients branch on it' })
  error_code: string;

  @ApiProperty({ type: ErrorDetailsSchema })
  details: ErrorDetailsSchema;

  @ApiProperty({ example: '2026-11-22T01:37:52.769Z', format: 'date-time' })
  timestamp: string;

  @ApiProperty({ example: '0f5c1c8e-4a57-4a8e-9a59-8c3c2f7f4f1e', description: 'The request id (X-Request-Id); quote it when reporting a problem' })
  error_id: string;
}
