import { registerDecorator, ValidationOptions } from 'class-validator';
import { isValidTimezone } from '../../schedule/recurrence/recurrence';

// One definition of "valid timezone" for config, DTOs and the recurrence engine.
export function IsIanaTimezone(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isIanaTimezone',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `${String(propertyName)} must be an IANA timezone name`, ...options },
      validator: { validate: (value: unknown) => typeof value === 'string' && value.length <= 64 && isValidTimezone(value) },
    });
}
