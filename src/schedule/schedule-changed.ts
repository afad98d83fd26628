import { ScheduleChangedEvent, ScheduleEventName } from '../notification/domain-events';
import { Schedule } from './schedule.types';

export function scheduleChanged(
  name: ScheduleEventName,
  schedule: Pick<Schedule, 'id' | 'tenant_id' | 'phone' | 'status' | 'next_execution' | 'campaign_id'>,
  at: Date,
  data: Record<string, unknown> = {},
): ScheduleChangedEvent {
  return new ScheduleChangedEvent(name, schedule.id, schedule.tenant_id, schedule.phone, schedule.status, schedule.next_execution?.toISOString() ?? null, at.toISOString(), data, schedule.campaign_id ?? null);
}
