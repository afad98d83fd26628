import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  registerDecorator,
  ValidationArguments,
  ValidationOptions,
} from 'class-validator';
import { CallingWindow, HH_MM, HH_MM_OR_24, minutesOf } from '../calling-window';

const CW = { context: { errorCode: 'CALLING_RULES_001' } };

function EndsAfterStart(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'endsAfterStart',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: 'end must be later than start on the same day (HH:mm, at most 24:00)', ...options },
      validator: {
        validate: (value: unknown, args: ValidationArguments) => {
          const start = (args.object as { start?: unknown }).start;
          if (typeof value !== 'string' || typeof start !== 'string' || !HH_MM_OR_24.test(value) || !HH_MM.test(start)) return true;
          return minutesOf(value) > minutesOf(start);
        },
      },
    });
}

// Calling hours in the callee's local time; used by schedules and campaigns alike.
export class CallingWindowDto {
  @IsArray(CW)
  @ArrayMinSize(1, CW)
  @ArrayMaxSize(7, CW)
  @ArrayUnique(undefined, CW)
  @IsInt({ each: true, ...CW })
  @Min(1, { each: true, ...CW })
  @Max(7, { each: true, ...CW })
  days: number[];

  @IsString(CW)
  @Matches(HH_MM, { ...CW, message: 'start must be HH:mm (00:00-23:59)' })
  start: string;

  @IsString(CW)
  @Matches(HH_MM_OR_24, { ...CW, message: 'end must be HH:mm (00:01-24:00)' })
  @EndsAfterStart(CW)
  end: string;

  @IsOptional()
  @IsArray(CW)
  @ArrayMaxSize(1000, CW)
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { each: true, ...CW, message: 'holidays must be YYYY-MM-DD dates' })
  @IsISO8601({ strict: true }, { each: true, ...CW, message: 'holidays must be valid YYYY-MM-DD dates' })
  holidays?: string[];
}

export function toCallingWindow(dto: CallingWindowDto): CallingWindow {
  return { days: [...dto.days].sort((a, b) => a - b), start: dto.start, end: dto.end, holidays: [...new Set(dto.holidays ?? [])].sort() };
}
