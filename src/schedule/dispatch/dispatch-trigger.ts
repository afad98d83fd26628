import { Injectable } from '@nestjs/common';

export type DueListener = (scheduleId: string, nextExecution: Date) => void;

// Schedules have no Agenda job of their own. A schedule's next_execution in call_schedules is its durable
// trigger, read by every instance's DueScheduleSweeper: one or two queries per poll by due slot for the
// whole cluster's schedules (decision 0030), instead of Agenda's lock query per job (a scan of agenda_jobs
// on FerretDB, which made idle polling grow with the number of schedules). A write that makes a schedule due before the next
// poll is also handed to this instance's sweeper at once, so it fires on time without a faster poll.
@Injectable()
export class DispatchTrigger {
  private listener: DueListener | null = null;

  listen(listener: DueListener | null): void {
    this.listener = listener;
  }

  armed(scheduleId: string, status: string, nextExecution: Date | null): void {
    if (status === 'scheduled' && nextExecution) this.listener?.(scheduleId, nextExecution);
  }
}
