import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { AuditService } from '../audit/audit.service';
import { AuditNote, NewAuditEntry, successEntry } from '../audit/audit.types';
import { Principal, scopeOf, TenantScope } from '../auth/principal';
import { Clock } from '../common/clock/clock';
import { isDuplicateKeyError } from '../common/mongo/mongo-query';
import { AppConfig } from '../config/app-config';
import { ScheduleEventName } from '../notification/domain-events';
import { CreateScheduleDto } from './dto/create-schedule.dto';
import { ListSchedulesQuery } from './dto/list-schedules.query';
import { UpdateScheduleDto } from './dto/update-schedule.dto';
import { IdempotencyKeyRepository } from './idempotency-key.repository';
import { buildDefinition, definitionContextFor, mergeForUpdate, newScheduleFields, ScheduleDefinition, withAgentInstance } from './schedule-definition';
import { ScheduleEventRepository } from './schedule-event.repository';
import { ScheduleCreationRelay } from './schedule-creation.relay';
import { DispatchTrigger } from './dispatch/dispatch-trigger';
import { LATEST_EVENTS_LIMIT } from './schedule.constants';
import {
  IdempotencyKeyConflictException,
  IllegalScheduleTransitionException,
  ScheduleModifiedConcurrentlyException,
  ScheduleNotFoundException,
} from './schedule.exceptions';
import { ScheduleRepository } from './schedule.repository';
import { nextWithinBounds } from './schedule-timing';
import { ActiveScheduleRecord, Schedule, ScheduleEventRecord, ScheduleStatus } from './schedule.types';

// The Idempotency-Key scope of POST /schedule/ (a bulk create has its own).
const CREATE_SCOPE = 'schedule.create';
const EDITABLE: ScheduleStatus[] = ['scheduled', 'paused'];
const DELETABLE: ScheduleStatus[] = ['scheduled', 'paused', 'completed', 'failed', 'cancelled', 'missed'];

function isAwaitingCallingHours(schedule: Schedule): boolean {
  return !schedule.repeat_config && schedule.status === 'pending' && schedule.last_call_status === 'deferred_calling_hours';
}

// The statuses a state change may start from, given the schedule as it reads now.
type AllowedFrom = (current: Schedule) => ScheduleStatus[];
const fromEditable: AllowedFrom = () => EDITABLE;
// The dial does not write its call's id on the schedule (its outcome does): a one-time schedule in its
// call, and a recurring one, name their latest placed call through its `dispatched` event, as they did when
// the dial wrote it.
function withLatestPlacedCall(schedule: Schedule, newestFirst: ScheduleEventRecord[]): Schedule {
  if (schedule.status !== 'running' && !schedule.repeat_config) return schedule;
  const callId = newestFirst.find((e) => e.type === 'dispatched')?.data.call_id;
  return typeof callId === 'string' ? { ...schedule, call_id: callId } : schedule;
}

// A one-time call deferred to the callee's calling hours reads pending for hours with nothing in flight:
// it can be cancelled, and the deferred run then finds it inactive. One that is running (claimed,
// dialing or in its call), or waits for a retry, cannot.
const cancellableFrom: AllowedFrom = (current) => (isAwaitingCallingHours(current) ? ['pending'] : EDITABLE);

export interface ScheduleDetails {
  schedule: Schedule;
  events: ScheduleEventRecord[];
}

// Awaited later, so never an unhandled rejection: its error, or null.
function failureOf(write: Promise<unknown>): Promise<unknown> {
  return write.then(
    () => null,
    (error: unknown) => error,
  );
}

export function canonicalHash(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex');
}

@Injectable()
export class ScheduleService {
  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly events: ScheduleEventRepository,
    private readonly idempotency: IdempotencyKeyRepository,
    private readonly trigger: DispatchTrigger,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly creations: ScheduleCreationRelay,
    private readonly audit: AuditService,
  ) {}

  // Two writes before the answer: the create's marker (with its audit entry) and the schedule; with an
  // Idempotency-Key, its reservation goes out beside the marker. Its events and audit entry are stored after
  // the answer, and from the marker should the process stop first.
  async create(principal: Principal, dto: CreateScheduleDto, idempotencyKey?: string, auditNote?: AuditNote): Promise<{ schedule: Schedule; replayed: boolean }> {
    const now = this.clock.now();
    const definition = withAgentInstance(principal, buildDefinition(dto, this.definitionContext(now)));
    const id = this.schedules.newId();
    const audit = auditNote ? successEntry(auditNote, now, id) : null;
    // Both must land before the insert, neither needs the other: one round trip for the two.
    const marked = failureOf(this.schedules.markCreating(id, audit));

    if (idempotencyKey) {
      const reservation = await this.idempotency
        .reserveKey({ tenantId: principal.tenantId, scope: CREATE_SCOPE, key: idempotencyKey, requestHash: canonicalHash(dto), resourceId: id, now })
        .catch(async (error: unknown) => {
          await marked;
          this.schedules.deleteCreationMarker(id);
          throw error;
        });
      if (!reservation.reserved) {
        // No schedule takes this request's id: its marker goes.
        void marked.then(() => this.schedules.deleteCreationMarker(id));
        if (reservation.requestHash !== canonicalHash(dto)) throw new IdempotencyKeyConflictException();
        const original = await this.awaitReplay(reservation.resourceId);
        if (!original) {
          // The first request stopped after its reservation and before its schedule (its process ended, or
          // the reservation's reply was lost and the client was answered with an error). This one creates the
          // schedule under the reserved id: should the first one still insert, one of the two meets the other's
          // document as a duplicate, and there is one schedule for the key.
          const adopted = auditNote ? successEntry(auditNote, now, reservation.resourceId) : null;
          const markedAgain = failureOf(this.schedules.renewCreationMarker(reservation.resourceId, adopted));
          return this.insertNew(principal, reservation.resourceId, definition, now, adopted, markedAgain, true);
        }
        return this.replay(original, auditNote ? successEntry(auditNote, now, original.id) : null);
      }
    }
    return this.insertNew(principal, id, definition, now, audit, marked, idempotencyKey !== undefined);
  }

  private async insertNew(
    principal: Principal,
    id: string,
    definition: ScheduleDefinition,
    now: Date,
    audit: NewAuditEntry | null,
    marked: Promise<unknown>,
    keyed: boolean,
  ): Promise<{ schedule: Schedule; replayed: boolean }> {
    let schedule: Schedule;
    try {
      const markFailure = await marked;
      if (markFailure) throw markFailure;
      schedule = await this.schedules.insertSchedule(id, newScheduleFields(definition, principal, now));
    } catch (error) {
      // An insert whose reply was lost may have been stored, or may still be. What the id holds now counts:
      // this create's document as made, another request's (under the same Idempotency-Key) as a replay.
      // Otherwise, under a key, nothing is undone: the key and the marker stay, the client's retry takes the
      // id over after its wait, and a late insert is announced by the reconcile pass. Without one, nobody
      // can take the id over and the client's retry makes a new one: an insert stored but unseen is undone
      // (one that lands only after the undo is not, and is announced by the pass).
      const duplicate = isDuplicateKeyError(error);
      const stored = await this.schedules.findById(id).catch(() => null);
      // Its random id is this create's alone, untouched since (version 1): deleted at its creation time.
      if (!stored && !keyed && !duplicate) await this.schedules.softDelete(id, 1, ['scheduled'], now).catch(() => undefined);
      if (!stored) throw duplicate ? new ScheduleModifiedConcurrentlyException() : error;
      if (duplicate || stored.created_at.getTime() !== now.getTime()) return this.replay(stored, audit);
      schedule = stored;
    }
    this.creations.relay(schedule, now, audit);
    this.trigger.armed(schedule.id, schedule.status, schedule.next_execution);
    return { schedule, replayed: false };
  }

  // The first request may have stopped between its insert and its events: stored here once.
  private async replay(original: Schedule, audit: NewAuditEntry | null): Promise<{ schedule: Schedule; replayed: boolean }> {
    await this.creations.store(original, original.created_at, null, false);
    if (audit) await this.audit.record(audit);
    return { schedule: original, replayed: true };
  }

  async get(principal: Principal, id: string): Promise<ScheduleDetails> {
    const schedule = await this.load(scopeOf(principal), id);
    const events = await this.events.latestFor(id, LATEST_EVENTS_LIMIT);
    return { schedule: withLatestPlacedCall(schedule, events), events };
  }

  async list(principal: Principal, query: ListSchedulesQuery): Promise<{ items: Schedule[]; total: number }> {
    return this.schedules.listForTenant(
      scopeOf(principal),
      {
        status: query.status,
        phone: query.phone,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
      },
      query.limit,
      query.offset,
    );
  }

  async listActive(principal: Principal, limit: number, offset: number): Promise<{ items: ActiveScheduleRecord[]; total: number }> {
    return this.schedules.listActive(scopeOf(principal), limit, offset);
  }

  // Bumping the version is what stops runs of the old definition: a dispatcher that read the old
  // version can no longer advance the schedule, so it releases its claim without dialing.
  async update(principal: Principal, id: string, dto: UpdateScheduleDto): Promise<Schedule> {
    const current = await this.load(scopeOf(principal), id);
    if (!EDITABLE.includes(current.status)) throw new IllegalScheduleTransitionException('update', current.status);
    const now = this.clock.now();
    const definition = withAgentInstance(
      principal,
      buildDefinition(mergeForUpdate(current, dto), {
        ...this.definitionContext(now),
        previous: current,
        occurrencesUsed: current.occurrence_count,
      }),
    );
    const updated = await this.schedules.updateIfVersion(id, current.version, EDITABLE, { ...definition, last_updated: now }, {
      at: now,
      events: [{ notify: 'schedule.updated', history: { type: 'updated', level: 'info', message: 'Schedule updated', data: { changed: Object.keys(dto) }, withNextExecution: true } }],
    });
    if (!updated) throw await this.conflictFor(principal, id, 'update');
    this.trigger.armed(updated.id, updated.status, updated.next_execution);
    return updated;
  }

  async pause(principal: Principal, id: string): Promise<Schedule> {
    return this.transition(principal, id, 'pause', () => ['scheduled'], () => ({ status: 'paused' }), 'paused', 'schedule.paused');
  }

  // Resume continues from now: occurrences that fell inside the pause are not replayed.
  async resume(principal: Principal, id: string): Promise<Schedule> {
    return this.transition(
      principal,
      id,
      'resume',
      () => ['paused'],
      (current, now) => {
        if (!current.repeat_config) return { status: 'scheduled', next_execution: current.scheduled_time };
        const next = nextWithinBounds(current, now, current.occurrence_count, true);
        return next ? { status: 'scheduled', next_execution: next } : { status: 'completed', next_execution: null };
      },
      'resumed',
      'schedule.resumed',
    );
  }

  async cancel(principal: Principal, id: string): Promise<Schedule> {
    return this.transition(principal, id, 'cancel', cancellableFrom, () => ({ status: 'cancelled', next_execution: null }), 'cancelled', 'schedule.cancelled');
  }

  // Newest first, any of the given statuses (an adapter's state can stand for several of ours).
  async listInStatuses(principal: Principal, statuses: ScheduleStatus[] | undefined, limit: number): Promise<Schedule[]> {
    return (await this.schedules.listForTenant(scopeOf(principal), { status: statuses }, limit, 0)).items;
  }

  async remove(principal: Principal, id: string): Promise<void> {
    const current = await this.load(scopeOf(principal), id);
    if (!DELETABLE.includes(current.status)) throw new IllegalScheduleTransitionException('delete', current.status);
    const now = this.clock.now();
    const deleted = { at: now, events: [{ notify: 'schedule.deleted' as const, history: { type: 'deleted', level: 'info' as const, message: 'Schedule deleted', data: {} } }] };
    if (!(await this.schedules.softDelete(id, current.version, DELETABLE, now, deleted))) throw await this.conflictFor(principal, id, 'delete');
  }

  private async transition(
    principal: Principal,
    id: string,
    action: string,
    allowedFrom: AllowedFrom,
    change: (current: Schedule, now: Date) => Partial<Schedule>,
    eventType: string,
    eventName: ScheduleEventName,
  ): Promise<Schedule> {
    const current = await this.load(scopeOf(principal), id);
    const from = allowedFrom(current);
    if (!from.includes(current.status)) throw new IllegalScheduleTransitionException(action, current.status);
    const now = this.clock.now();
    const updated = await this.schedules.updateIfVersion(id, current.version, from, { ...change(current, now), last_updated: now }, {
      at: now,
      events: [{ notify: eventName, history: { type: eventType, level: 'info', message: `Schedule ${eventType}`, data: {}, withNextExecution: true } }],
    });
    if (!updated) throw await this.conflictFor(principal, id, action, allowedFrom);
    this.trigger.armed(updated.id, updated.status, updated.next_execution);
    return updated;
  }

  private async conflictFor(principal: Principal, id: string, action: string, allowedFrom: AllowedFrom = fromEditable): Promise<Error> {
    const fresh = await this.schedules.findForTenant(id, scopeOf(principal));
    if (!fresh) return new ScheduleNotFoundException(id);
    // Still in a state this kind of change starts from: someone else's write got in between.
    if (!EDITABLE.includes(fresh.status) && !allowedFrom(fresh).includes(fresh.status)) return new IllegalScheduleTransitionException(action, fresh.status);
    return new ScheduleModifiedConcurrentlyException();
  }

  private async load(scope: TenantScope, id: string): Promise<Schedule> {
    const schedule = await this.schedules.findForTenant(id, scope);
    if (!schedule) throw new ScheduleNotFoundException(id);
    return schedule;
  }

  // A concurrent retry with the same key may arrive while the first request is still inserting; null when
  // its schedule has not appeared within 5 s.
  private async awaitReplay(id: string): Promise<Schedule | null> {
    for (let i = 0; i < 50; i++) {
      const schedule = await this.schedules.findById(id);
      if (schedule) return schedule;
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }

  private definitionContext(now: Date) {
    return definitionContextFor(this.config, now);
  }
}
