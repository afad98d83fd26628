export const SCHEDULE_EVENT_NAMES = [
  'schedule.created',
  'schedule.updated',
  'schedule.paused',
  'schedule.resumed',
  'schedule.cancelled',
  'schedule.deleted',
  'schedule.completed',
  'schedule.missed',
  'schedule.failed',
] as const;
export const CALL_EVENT_NAMES = [
  'call.dispatched',
  'call.skipped',
  'call.ringing',
  'call.answered',
  'call.completed',
  'call.busy',
  'call.no_answer',
  'call.failed',
  'call.unknown',
] as const;
export type ScheduleEventName = (typeof SCHEDULE_EVENT_NAMES)[number];
export type CallEventName = (typeof CALL_EVENT_NAMES)[number];

// The one definition of a call's final outcome: the provider reported how the call ended (the call log's
// FINAL_CALL_STATUSES). `call.skipped` never reached a provider, and `call.unknown` is not final: the request
// may have reached the provider, and a late callback or the call reconciler may still settle it. Each
// consumer decides about those two itself.
export const FINAL_CALL_EVENTS: ReadonlySet<CallEventName> = new Set<CallEventName>(['call.completed', 'call.busy', 'call.no_answer', 'call.failed']);

export function isFinalCallEvent(type: string): boolean {
  return FINAL_CALL_EVENTS.has(type as CallEventName);
}
export type DomainEventName = ScheduleEventName | CallEventName;
export const DOMAIN_EVENT_NAMES: readonly DomainEventName[] = [...SCHEDULE_EVENT_NAMES, ...CALL_EVENT_NAMES];

// What subscribers receive as the envelope's `data`: the same shape for every event of a family.
export interface ScheduleEventData {
  schedule_id: string;
  tenant_id: string;
  phone: string;
  status: string;
  next_execution: string | null;
  occurred_at: string;
  details: Record<string, unknown>;
}

export interface CallEventData {
  call_log_id: string;
  schedule_id: string | null;
  tenant_id: string;
  phone: string;
  status: string;
  call_id: string | null;
  attempt_number: number;
  occurred_at: string;
  details: Record<string, unknown>;
}

export class ScheduleChangedEvent {
  constructor(
    readonly type: ScheduleEventName,
    readonly schedule_id: string,
    readonly tenant_id: string,
    readonly phone: string,
    readonly status: string,
    readonly next_execution: string | null,
    readonly occurred_at: string,
    readonly data: Record<string, unknown>,
    // In process only (not in the envelope): whether a campaign's consumers need to look at it.
    readonly campaign_id: string | null,
  ) {}

  toEnvelopeData(): ScheduleEventData {
    const { schedule_id, tenant_id, phone, status, next_execution, occurred_at, data } = this;
    return { schedule_id, tenant_id, phone, status, next_execution, occurred_at, details: { ...data } };
  }
}

export class CallChangedEvent {
  constructor(
    readonly type: CallEventName,
    readonly call_log_id: string,
    readonly schedule_id: string | null,
    readonly tenant_id: string,
    readonly phone: string,
    readonly status: string,
    readonly call_id: string | null,
    readonly attempt_number: number,
    readonly occurred_at: string,
    readonly data: Record<string, unknown> = {},
    // In process only (not in the envelope): whether the call is a campaign attempt's; null when unknown.
    readonly for_campaign: boolean | null = null,
  ) {}

  toEnvelopeData(): CallEventData {
    const { call_log_id, schedule_id, tenant_id, phone, status, call_id, attempt_number, occurred_at, data } = this;
    return { call_log_id, schedule_id, tenant_id, phone, status, call_id, attempt_number, occurred_at, details: { ...data } };
  }
}

export type DomainEvent = ScheduleChangedEvent | CallChangedEvent;

// The event again from what was stored of it: its envelope data, and beside it what it says of its campaign
// in process only.
export function domainEventFromEnvelope(type: DomainEventName, data: Record<string, unknown>, campaign: { campaign_id: string | null; for_campaign: boolean | null }): DomainEvent {
  const details = (data.details ?? {}) as Record<string, unknown>;
  if ((CALL_EVENT_NAMES as readonly string[]).includes(type)) {
    const d = data as unknown as CallEventData;
    return new CallChangedEvent(type as CallEventName, d.call_log_id, d.schedule_id, d.tenant_id, d.phone, d.status, d.call_id, d.attempt_number, d.occurred_at, details, campaign.for_campaign);
  }
  const d = data as unknown as ScheduleEventData;
  return new ScheduleChangedEvent(type as ScheduleEventName, d.schedule_id, d.tenant_id, d.phone, d.status, d.next_execution, d.occurred_at, details, campaign.campaign_id);
}

// The payload class of every event name, so a handler for one name gets its precise type.
export type DomainEventMap = { [N in ScheduleEventName]: ScheduleChangedEvent & { type: N } } & {
  [N in CallEventName]: CallChangedEvent & { type: N };
};

export function isDomainEvent(value: unknown): value is DomainEvent {
  return value instanceof ScheduleChangedEvent || value instanceof CallChangedEvent;
}
