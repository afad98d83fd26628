import { OmitType, PartialType } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsBoolean, IsIn, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { SUBSCRIPTION_PATTERNS } from '../event-pattern';

const URL_CODE = { context: { errorCode: 'NOTIFICATION_001' } };
const PATTERN_CODE = { context: { errorCode: 'NOTIFICATION_003' } };

export class CreateSubscriptionDto {
  @IsString(URL_CODE)
  @MaxLength(2048, URL_CODE)
  url: string;

  @IsArray(PATTERN_CODE)
  @ArrayMinSize(1, PATTERN_CODE)
  @ArrayMaxSize(50, PATTERN_CODE)
  @ArrayUnique(undefined, PATTERN_CODE)
  @IsIn(SUBSCRIPTION_PATTERNS, { each: true, ...PATTERN_CODE, message: `each pattern must be one of: ${SUBSCRIPTION_PATTERNS.join(', ')}` })
  events: string[];

  @IsOptional()
  @IsString()
  @MinLength(16)
  @MaxLength(256)
  secret?: string;

  @IsOptional()
  @IsBoolean()
  active?: boolean;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

// Every field optional; the secret is set once, at creation (rotate by creating a new subscription).
export class UpdateSubscriptionDto extends PartialType(OmitType(CreateSubscriptionDto, ['secret'] as const)) {}
