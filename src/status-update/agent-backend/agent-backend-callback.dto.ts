import { IsIn, IsInt, IsMongoId, IsOptional, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';
import type { CallStatus } from '../../tracking/call-status';

// Seed 000's upper-case states and Twilio's words are both accepted, onto the service's own statuses.
export const AGENT_BACKEND_STATUSES: Record<string, CallStatus> = {
  RINGING: 'ringing',
  IN_PROGRESS: 'in_progress',
  COMPLETED: 'completed',
  BUSY: 'busy',
  NO_ANSWER: 'no_answer',
  FAILED: 'failed',
  CANCELED: 'canceled',
  CANCELLED: 'canceled',
};

export function agentBackendStatusOf(status: string): CallStatus | undefined {
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
