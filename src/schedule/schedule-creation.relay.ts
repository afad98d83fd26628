import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { InFlight } from '../common/in-flight';
import { NewAuditEntry } from '../audit/audit.types';
import { creationOf, ScheduleOutbox } from './schedule-outbox';
import { ScheduleRepository } from './schedule.repository';
import { Schedule } from './schedule.types';

// What `POST /schedule/` leaves for after its response: the new schedule's `schedule.created`, its history
// entry and its audit entry. The create writes only its marker (which carries the audit entry) and the
// schedule before it answers; this stores the rest, sharing inserts with the creates in flight, and then
// deletes the marker. A process that stops in between leaves the marker, and the reconcile pass stores
// the same records from it (ScheduleRepository.finishStalledChanges), under the same ids: nothing twice.
@Injectable()
export class ScheduleCreationRelay {
  private readonly logger = new Logger('ScheduleCreation');
  private readonly inFlight = new InFlight();

  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly outbox: ScheduleOutbox,
    private readonly audit: AuditService,
  ) {}

  relay(schedule: Schedule, at: Date, audit: NewAuditEntry | null): void {
    void this.inFlight.track(
      this.store(schedule, at, audit, true)
        .then(() => this.schedules.deleteCreationMarker(schedule.id))
        .catch((error: unknown) => {
          this.logger.warn(`schedule ${schedule.id}: its creation records are left to the reconcile pass: ${error instanceof Error ? error.message : String(error)}`);
        }),
    );
  }

  // The events under the schedule's id and keys of its first revision, the audit entry under the
  // schedule's id: a repeat (the pass, a replay) is refused by each unique insert.
  async store(schedule: Schedule, at: Date, audit: NewAuditEntry | null, publish: boolean): Promise<void> {
    await Promise.all([
      this.outbox.recordCreated(schedule, creationOf(at, 'Schedule created'), publish),
      audit ? this.audit.recordOnce(schedule.id, audit) : undefined,
    ]);
  }

  // At shutdown: what is still being stored gets until `deadline` (epoch ms); returns how many were left.
  drain(deadline: number): Promise<number> {
    return this.inFlight.drain(deadline);
  }
}
