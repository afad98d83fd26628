import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';

export type DialDecision = { allowed: true } | { allowed: false; reason: 'safe_mode'; detail: string };

// Rules every dial passes before anything is written for it or sent to a provider.
@Injectable()
export class DialPolicy {
  private readonly safeList: Set<string> | null;

  constructor(config: AppConfig) {
    const allowed = config.dialing.safeModeAllowedNumbers;
    this.safeList = allowed ? new Set(allowed) : null;
  }

  check(phone: string): DialDecision {
    // Safe mode lets a new deployment run against real data without ringing real customers.
    if (this.safeList && !this.safeList.has(phone)) {
      return { allowed: false, reason: 'safe_mode', detail: 'SAFE_MODE_ALLOWED_NUMBERS is set and does not include this number' };
    }
    return { allowed: true };
  }
}
