import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { IsPhoneNumber } from '../../common/validation/is-phone.decorator';
import { PageQuery } from '../../common/dto/page.query';
import { DNC_SOURCES, DncEntry } from '../dnc.types';

export const MAX_REASON_LENGTH = 500;

export class CreateDncEntryDto {
  @IsString({ context: { errorCode: 'DNC_001' } })
  @IsPhoneNumber({ context: { errorCode: 'DNC_001' } })
  phone: string;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_REASON_LENGTH)
  reason?: string;
}

export class ListDncQuery extends PageQuery {
  // Any international notation; matched exactly after normalising to E.164.
  @IsOptional()
  @IsString({ context: { errorCode: 'DNC_001' } })
  @IsPhoneNumber({ context: { errorCode: 'DNC_001' } })
  phone?: string;

  // Digits the E.164 number starts with, e.g. +1415.
  @IsOptional()
  @IsString()
  @MaxLength(16)
  phone_prefix?: string;

  @IsOptional()
  @IsIn(DNC_SOURCES)
  source?: string;
}

export function dncEntryView(e: DncEntry) {
  return { id: e.id, phone: e.phone, reason: e.reason, source: e.source, created_by: e.created_by, created_at: e.created_at.toISOString() };
}
