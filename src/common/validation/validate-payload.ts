import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';

export class InvalidPayloadError extends Error {}

// Job payloads are a boundary too: data written by an older or foreign writer is checked before use.
export function validatePayload<T extends object>(cls: new () => T, data: unknown): T {
  const instance = plainToInstance(cls, data ?? {});
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: false });
  if (errors.length > 0) {
    throw new InvalidPayloadError(`invalid ${cls.name}: ${errors.map((e) => `${e.property}: ${Object.values(e.constraints ?? {}).join(', ')}`).join('; ')}`);
  }
  return instance;
}

// For job handlers: a payload that fails validation can never succeed, so it is logged and the job idles.
export function parseJobPayload<T extends object>(cls: new () => T, data: unknown, log: (message: string) => void): T | null {
  try {
    return validatePayload(cls, data);
  } catch (error) {
    if (!(error instanceof InvalidPayloadError)) throw error;
    log(error.message);
    return null;
  }
}
