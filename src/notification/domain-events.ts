export const SCHEDULE_EVENT_NAMES = [
  'schedule.created',
  'schedule.updated',
  'schedule.paused',
  'schedule.resumed',
  'schedule.cancelled',
  'schedule.deleted',
  'schedule.completed',
  'schedule.missed',
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
export type DomainEventName = ScheduleEventName | CallEventName;

export class ScheduleChangedEvent {
  constructor(
    readonly type: ScheduleEventName,
    readonly schedule_id: string,
    readonly tenant_id: string,
    readonly phone: string,
    readonly status: string,
    readonly next_execution: string | null,
    readonly occurred_at: string,
    readonly data: Record<string, unknown> = {},
  ) {}
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
  ) {}
}

export type DomainEvent = ScheduleChangedEvent | CallChangedEvent;
