import { Injectable } from '@nestjs/common';
import { CalleeTimezoneResolver } from '../calling-rules/callee-timezone.resolver';
import { CallingWindow, defaultCallingWindow, nextWindowOpening } from '../calling-rules/calling-window';
import { AppConfig } from '../config/app-config';
import { DncService } from '../dnc/dnc.service';

// Who is about to be called, and under which calling rules.
export interface DialSubject {
  tenantId: string;
  phone: string;
  // false waives calling hours (a one-off call the person asked for); ignored for campaign dials.
  respectCallingHours: boolean;
  calleeTimezone: string | null;
  // The schedule's or campaign's zone, for numbers whose zone cannot be derived.
  fallbackTimezone: string;
  // null: CALLING_HOURS_DEFAULT every day.
  callingWindow: CallingWindow | null;
  campaignId: string | null;
}

export type SkipReason = 'safe_mode' | 'dnc' | 'calling_hours';

export type DialDecision =
  | { action: 'dial' }
  // Never dialed: the dial is recorded as skipped and nothing reaches a provider.
  | { action: 'skip'; reason: SkipReason; detail: string }
  // Not now: dial at `until`, the next instant inside the callee's window.
  | { action: 'defer'; reason: 'calling_hours'; until: Date; zones: string[]; detail: string };

// The one place the rules every dial passes are checked, before anything is written for the dial and
// again right before the provider request: safe mode, the do-not-call list, then calling hours.
@Injectable()
export class DialPolicy {
  private readonly safeList: Set<string> | null;
  private readonly defaultWindow: CallingWindow;

  constructor(
    private readonly config: AppConfig,
    private readonly dnc: DncService,
    private readonly zones: CalleeTimezoneResolver,
  ) {
    const allowed = config.dialing.safeModeAllowedNumbers;
    this.safeList = allowed ? new Set(allowed) : null;
    this.defaultWindow = defaultCallingWindow(config);
  }

  async check(subject: DialSubject, at: Date): Promise<DialDecision> {
    // Safe mode lets a new deployment run against real data without ringing real customers.
    if (this.safeList && !this.safeList.has(subject.phone)) {
      return { action: 'skip', reason: 'safe_mode', detail: 'SAFE_MODE_ALLOWED_NUMBERS is set and does not include this number' };
    }
    if (await this.dnc.isBlocked(subject.tenantId, subject.phone)) {
      return { action: 'skip', reason: 'dnc', detail: 'the number is on the do-not-call list' };
    }
    return this.checkCallingHours(subject, at);
  }

  checkCallingHours(subject: DialSubject, at: Date): DialDecision {
    if (!subject.respectCallingHours && !subject.campaignId) return { action: 'dial' };
    const window = subject.callingWindow ?? this.defaultWindow;
    const { zones, source } = this.zones.resolve(subject.phone, subject.calleeTimezone, subject.fallbackTimezone);
    const opening = nextWindowOpening(window, zones, at);
    if (!opening) {
      return { action: 'skip', reason: 'calling_hours', detail: `the calling window ${describe(window)} never opens in ${zones.join(', ')} (${source})` };
    }
    if (opening.getTime() === at.getTime()) return { action: 'dial' };
    return {
      action: 'defer',
      reason: 'calling_hours',
      until: opening,
      zones,
      detail: `outside the calling window ${describe(window)} in ${zones.join(', ')} (${source}); next opening ${opening.toISOString()}`,
    };
  }
}

function describe(window: CallingWindow): string {
  return `${window.start}-${window.end} on days ${window.days.join(',')}${window.holidays.length ? ` except ${window.holidays.length} holiday(s)` : ''}`;
}
