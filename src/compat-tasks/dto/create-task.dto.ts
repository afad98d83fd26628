import { IsIn, IsISO8601, IsObject, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { BACKEND_MODES, BackendMode } from '../../calls/provider-options';

// Seed 000's POST /tasks body, field for field.
export class CreateTaskDto {
  @IsString({ context: { errorCode: 'SCHEDULE_003' } })
  @IsISO8601({ strict: true }, { context: { errorCode: 'SCHEDULE_003' }, message: 'runAtUtc must be an ISO-8601 UTC time such as 2026-02-01T22:00:00Z' })
  runAtUtc: string;

  @IsOptional()
  @IsString({ context: { errorCode: 'SCHEDULE_014' } })
  @MaxLength(300, { context: { errorCode: 'SCHEDULE_014' } })
  backendBaseUrl?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  agentType?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  conversationId?: string;

  @IsOptional()
  @IsIn(BACKEND_MODES, { context: { errorCode: 'SCHEDULE_014' }, message: `mode must be one of ${BACKEND_MODES.join(', ')}` })
  mode?: BackendMode;

  @IsObject({ context: { errorCode: 'SCHEDULE_014' }, message: 'payload must be an object' })
  payload: Record<string, unknown>;
}
