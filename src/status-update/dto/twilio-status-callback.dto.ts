import { IsIn, IsMongoId, IsNumberString, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export const TWILIO_CALL_STATUSES = ['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'failed', 'no-answer', 'canceled'] as const;
export type TwilioCallStatus = (typeof TWILIO_CALL_STATUSES)[number];

// The form fields we act on. Twilio posts many more; those are kept for the signature and ignored here.
export class TwilioStatusCallbackDto {
  @IsString()
  @Matches(/^[A-Za-z]{2}[0-9a-fA-F]{32}$/, { message: 'CallSid must be a Twilio call sid' })
  CallSid: string;

  @IsIn(TWILIO_CALL_STATUSES)
  CallStatus: TwilioCallStatus;

  @IsOptional()
  @IsNumberString({ no_symbols: true })
  @MaxLength(9)
  SequenceNumber?: string;

  @IsOptional()
  @IsNumberString({ no_symbols: true })
  @MaxLength(9)
  CallDuration?: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  AnsweredBy?: string;

  @IsOptional()
  @IsString()
  @MaxLength(16)
  SipResponseCode?: string;

  @IsOptional()
  @IsString()
  @MaxLength(16)
  ErrorCode?: string;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  ErrorMessage?: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  Timestamp?: string;
}

export class StatusCallbackQuery {
  @IsOptional()
  @IsMongoId()
  call_log_id?: string;
}
