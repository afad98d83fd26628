import { IsIn, IsInt, IsMongoId, IsOptional, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';
import type { TwilioCallStatus } from '../dto/twilio-status-callback.dto';

// Seed 000's upper-case states and Twilio's words are both accepted; they map onto Twilio's, which the
// status-update path already speaks.
export const AGENT_BACKEND_STATUSES: Record<string, TwilioCallStatus> = {
  RINGING: 'ringing',
  IN_PROGRESS: 'in-progress',
  COMPLETED: 'completed',
  BUSY: 'busy',
  NO_ANSWER: 'no-answer',
  FAILED: 'failed',
  CANCELED: 'canceled',
  CANCELLED: 'canceled',
};

export function toTwilioStatus(status: string): TwilioCallStatus | undefined {
  return AGENT_BACKEND_STATUSES[status.trim().toUpperCase().replace(/-/g, '_')];
}

export class AgentBackendCallbackDto {
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  callId: string;

  @IsString()
  @IsIn([...Object.keys(AGENT_BACKEND_STATUSES), ...Object.keys(AGENT_BACKEND_STATUSES).map((s) => s.toLowerCase()), 'in-progress', 'no-answer'], {
    message: `status must be one of ${Object.keys(AGENT_BACKEND_STATUSES).join(', ')}`,
  })
  status: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400)
  durationSeconds?: number;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  error?: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  timestamp?: string;
}

export class AgentBackendCallbackQuery {
  @IsMongoId()
  call_log_id: string;
}
