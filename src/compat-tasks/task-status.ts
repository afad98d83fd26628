import { ScheduleStatus } from '../schedule/schedule.types';

// Seed 000 (Calleroo scheduler) task states, and which of our schedule states each stands for.
export const TASK_STATUSES = ['SCHEDULED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

const TASK_STATUS_OF: Record<ScheduleStatus, TaskStatus> = {
  scheduled: 'SCHEDULED',
  paused: 'SCHEDULED',
  pending: 'RUNNING',
  running: 'RUNNING',
  completed: 'COMPLETED',
  failed: 'FAILED',
  missed: 'FAILED',
  cancelled: 'CANCELED',
};

export function taskStatusOf(status: ScheduleStatus): TaskStatus {
  return TASK_STATUS_OF[status];
}

export function scheduleStatusesOf(status: TaskStatus): ScheduleStatus[] {
  return (Object.keys(TASK_STATUS_OF) as ScheduleStatus[]).filter((s) => TASK_STATUS_OF[s] === status);
}
