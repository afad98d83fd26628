import { registerDecorator, ValidationOptions } from 'class-validator';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

// Full metadata ("max"): validates number ranges per region, not only lengths.
export function toE164(value: string): string | null {
  if (typeof value !== 'string' || value.length > 32) return null;
  const parsed = parsePhoneNumberFromString(value.trim());
  return parsed && parsed.isValid() ? parsed.number : null;
}

export function IsPhoneNumber(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isPhoneNumber',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: `${String(propertyName)} must be a valid phone number in international format (e.g. +14155552671)`,
        ...options,
      },
      validator: { validate: (value: unknown) => typeof value === 'string' && toE164(value) !== null },
    });
}
