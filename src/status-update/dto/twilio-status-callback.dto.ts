import { IsIn, IsMongoId, IsNumberString, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { TWILIO_CALL_STATUSES, TwilioCallbackFields, type TwilioCallStatus } from '../../calls/providers/twilio-status';

// The form fields we act on. Twilio posts many more; those are kept for the signature and ignored here.
// The Twilio adapter (twilioCallbackReport) turns them into the service's own CallStatusReport.
export class TwilioStatusCallbackDto implements TwilioCallbackFields {
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
