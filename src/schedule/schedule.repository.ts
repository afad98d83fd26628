import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { scopeFilter, TenantScope } from '../auth/principal';
import { insertedUnlessDuplicate, op, retryOnLockContention, toObjectId } from '../common/mongo/mongo-query';
import { findPageWithin } from '../common/mongo/query-time-limit';
import { nullFiller, withoutNulls } from '../common/mongo/absent-nulls';
import { CoalescedDeletes, CoalescedInserts } from '../common/mongo/coalesced-inserts';
import { duplicateIndexes } from '../common/mongo/write-errors';
import { WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { AppConfig } from '../config/app-config';
import { CallScheduleDoc, CallScheduleSchema, SCHEDULE_WRITE_GATE, ScheduleOutboxPendingDoc } from './schemas/call-schedule.schema';
import { ScheduleChange, ScheduleOutbox, ScheduleOutboxRecord } from './schedule-outbox';
import { NewAuditEntry } from '../audit/audit.types';
import { ActiveScheduleRecord, LIVE_SCHEDULE_STATUSES, Schedule, ScheduleStatus } from './schedule.types';
import { dueShardOf, dueSlotOf, withDueSlot } from './due-slot';

type ScheduleFields = Omit<Schedule, 'id'>;
type LeanSchedule = CallScheduleDoc & { _id: Types.ObjectId; rev?: number | null; outbox?: ScheduleOutboxRecord | null };

// A change's events ride in the write itself (the `outbox` field, with the revision it makes), so the
// write gate records them with the change. No events: the field is left as it is.
function withEvents(current: LeanSchedule, set: Record<string, unknown> | null, change: ScheduleChange | undefined): Record<string, unknown> | null {
  if (!set || !change || change.events.length === 0) return set;
  return { ...set, outbox: { rev: (current.rev ?? 0) + 1, at: change.at, events: change.events } satisfies ScheduleOutboxRecord };
}

export interface ScheduleListFilter {
  status?: ScheduleStatus | ScheduleStatus[];
  phone?: string;
  from?: Date;
  to?: Date;
}

// Stored with its nulls absent (absent-nulls.ts): a read fills them back.
const fillNulls = nullFiller<LeanSchedule>(CallScheduleSchema);

function toSchedule(doc: LeanSchedule): Schedule {
  const { _id, deleted_at: _deleted, rev: _rev, outbox: _outbox, due_slot: _slot, due_shard: _shard, ...rest } = fillNulls(doc);
  const fields = rest as unknown as ScheduleFields;
  // Schedules stored before calling rules existed follow the default rules.
  return {
    id: _id.toHexString(),
    ...fields,
    respect_calling_hours: fields.respect_calling_hours ?? true,
    callee_timezone: fields.callee_timezone ?? null,
    calling_window: fields.calling_window ?? null,
    campaign_id: fields.campaign_id ?? null,
    campaign_contact_id: fields.campaign_contact_id ?? null,
    last_error: fields.last_error ?? null,
  };
}

// A schedule still at the occurrence a run claimed, in the version it read: what its advance moves on.
function awaitsOccurrence(s: LeanSchedule, version: number, occurrenceAt: Date): boolean {
  return !s.deleted_at && s.version === version && s.status === 'scheduled' && s.next_execution?.getTime() === occurrenceAt.getTime();
}

// A new schedule as stored: its due slot, and its due shard, fixed here.
function newScheduleDoc(id: string, fields: ScheduleFields): Record<string, unknown> {
  return withDueSlot({ _id: new Types.ObjectId(id), ...fields, due_shard: dueShardOf(id) });
}

// What the sweeper dispatches: scheduled, live, and due by `horizon`.
function dueBy(horizon: Date): Record<string, unknown> {
  return { status: 'scheduled', deleted_at: null, next_execution: op({ $ne: null, $lte: horizon }) };
}

const CREATION_MARKER = ':created';
// A create stores its events within milliseconds of its marker; one whose marker is this old stopped.
const CREATION_STALL_MS = 60_000;

@Injectable()
export class ScheduleRepository {
  // A schedule is written by the API (edit, pause, resume, cancel, delete), the dispatcher, callbacks and the
  // reconciler, possibly at once on several instances: every write after the insert goes through the
  // gate, so each is checked against, and applied to, the schedule exactly as the previous write left it.
  private readonly gate: WriteGate<LeanSchedule>;
  // Concurrent creates share one insertMany.
  private readonly inserts: CoalescedInserts<CallScheduleDoc>;
  private readonly creationMarkers: CoalescedInserts<ScheduleOutboxPendingDoc>;
  private readonly markerDeletes: CoalescedDeletes<ScheduleOutboxPendingDoc>;

  constructor(
    @InjectModel(CallScheduleDoc.name) private readonly schedules: Model<CallScheduleDoc>,
    @InjectModel(SCHEDULE_WRITE_GATE) gates: Model<WriteGateDoc>,
    private readonly config: AppConfig,
    private readonly outbox: ScheduleOutbox,
    @InjectModel(ScheduleOutboxPendingDoc.name) private readonly pendingChanges: Model<ScheduleOutboxPendingDoc>,
  ) {
    // A write whose outbox names the revision it makes carries that change's events: stored before the
    // write (by the winner, or by whoever takes a dead winner's change over), published after it. The
    // pending marker, first, lets finishStalledChanges write a change whose events are out and whose writer
    // stopped, should nobody else write the schedule.
    this.gate = new WriteGate<LeanSchedule>(schedules, gates, undefined, {
      beforeWrite: async (_before, after, rev) => {
        if (after.outbox?.rev !== rev) return;
        const marker = `${after._id.toHexString()}:${rev}`;
        await retryOnLockContention(() => insertedUnlessDuplicate(() => this.pendingChanges.create({ _id: marker, at: new Date() })));
        await retryOnLockContention(() => outbox.store(toSchedule(after), after.outbox!));
      },
      afterWrite: (after, rev) => {
        if (after.outbox?.rev !== rev) return;
        outbox.publish(after._id.toHexString(), rev);
        void this.markerDeletes.delete(`${after._id.toHexString()}:${rev}`).catch(() => undefined);
      },
    }, { nullsAbsent: true });
    this.inserts = new CoalescedInserts(schedules, { nullsAbsent: true });
    this.creationMarkers = new CoalescedInserts(pendingChanges);
    this.markerDeletes = new CoalescedDeletes(pendingChanges);
  }

  // `<id>:created`, inserted before the schedule and deleted once its events and audit entry are stored
  // (after the API's answer), lets the reconcile pass store them for a create whose process stopped in
  // between (finishStalledChanges). Concurrent creates share each insert and each delete.
  async markCreating(id: string, audit: NewAuditEntry | null = null): Promise<void> {
    await this.creationMarkers.insert({ _id: `${id}${CREATION_MARKER}`, at: new Date(), ...(audit ? { audit } : {}) });
  }

  // The marker of a create taken over under its Idempotency-Key (ScheduleService.create): one the first
  // request left keeps its old time, which the reconcile pass would take for a stall before this insert lands.
  async renewCreationMarker(id: string, audit: NewAuditEntry | null): Promise<void> {
    // Two retries' upserts at once on FerretDB: the second may meet the first's insert, and the marker is there.
    await insertedUnlessDuplicate(() => this.pendingChanges.updateOne({ _id: `${id}${CREATION_MARKER}` }, { $set: { at: new Date(), ...(audit ? { audit } : {}) } }, { upsert: true }));
  }

  deleteCreationMarker(id: string): void {
    void this.markerDeletes.delete(`${id}${CREATION_MARKER}`).catch(() => undefined);
  }

  newId(): string {
    return new Types.ObjectId().toHexString();
  }

  // Every gated write of a schedule: one that moves next_execution moves its due slot with it.
  private update(_id: Types.ObjectId, compute: (current: LeanSchedule) => Record<string, unknown> | null) {
    return this.gate.update(_id, (s) => withDueSlot(compute(s)));
  }

  async insertSchedule(id: string, fields: ScheduleFields): Promise<Schedule> {
    const created = await this.inserts.insert<LeanSchedule>(newScheduleDoc(id, fields));
    return toSchedule(this.gate.remember(created));
  }

  // One unordered write for many schedules; ids that already exist come back as duplicates (a replay).
  async insertMany(items: Array<{ id: string; fields: ScheduleFields }>): Promise<{ duplicateIds: Set<string> }> {
    const duplicateIds = new Set<string>();
    if (items.length === 0) return { duplicateIds };
    try {
      await this.schedules.collection.insertMany(
        items.map(({ id, fields }) => withoutNulls(newScheduleDoc(id, fields))),
        { ordered: false },
      );
    } catch (error) {
      const refused = duplicateIndexes(error);
      if (!refused) throw error;
      for (const index of refused) duplicateIds.add(items[index].id);
    }
    return { duplicateIds };
  }

  async findById(id: string): Promise<Schedule | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.schedules.findOne({ _id, deleted_at: null }).lean<LeanSchedule>();
    return doc ? toSchedule(this.gate.remember(doc)) : null;
  }

  // Tenant scoping lives here, not in controllers: a non-admin can never load another tenant's record.
  async findForTenant(id: string, scope: TenantScope): Promise<Schedule | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.schedules.findOne({ _id, deleted_at: null, ...scopeFilter(scope) }).lean<LeanSchedule>();
    return doc ? toSchedule(this.gate.remember(doc)) : null;
  }

  async listForTenant(scope: TenantScope, filter: ScheduleListFilter, limit: number, offset: number): Promise<{ items: Schedule[]; total: number }> {
    const query: Record<string, unknown> = { deleted_at: null, ...scopeFilter(scope) };
    if (filter.status) query.status = Array.isArray(filter.status) ? op({ $in: filter.status }) : filter.status;
    if (filter.phone) query.phone = filter.phone;
    if (filter.from || filter.to) {
      query.scheduled_time = op({ ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) });
    }
    const [docs, total] = await findPageWithin<CallScheduleDoc, LeanSchedule>(this.schedules, query, { created_at: -1, _id: -1 }, { offset, limit }, this.config.apiQueryMaxTimeMs);
    return { items: docs.map(toSchedule), total };
  }

  // Optimistic write: applies only if nobody changed the schedule since `version` was read. Safe on an
  // engine without atomic updates: the version and status are checked on the gated read, and no other
  // write of this schedule can land between that read and this write (a pause racing a dispatch: one wins).
  async updateIfVersion(id: string, version: number, fromStatuses: ScheduleStatus[], set: Partial<ScheduleFields>, change?: ScheduleChange): Promise<Schedule | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const res = await this.update(_id, (s) =>
      withEvents(s, !s.deleted_at && s.version === version && fromStatuses.includes(s.status as ScheduleStatus) ? { ...set, version: version + 1 } : null, change),
    );
    return res?.changed ? toSchedule(res.doc) : null;
  }

  // The dispatcher's step after winning a claim: moves next_execution from the claimed occurrence on.
  // It does not bump the version: only definition changes do, and they must make this update miss.
  async advanceOccurrence(id: string, version: number, occurrenceAt: Date, set: Partial<ScheduleFields>, occurrencesUsed: number, change?: ScheduleChange): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    if (await this.advanceWithOthers(_id, version, occurrenceAt, set, occurrencesUsed, change)) return true;
    const res = await this.update(_id, (s) =>
      withEvents(
        s,
        awaitsOccurrence(s, version, occurrenceAt) ? { ...set, occurrence_count: s.occurrence_count + occurrencesUsed } : null,
        change,
      ),
    );
    return res?.changed === true;
  }

  // Schedules due at the same instant are advanced alike (one-time ones to running): while a burst's
  // dispatches advance them, each from the copy the sweep remembered, their writes go out as one statement
  // per instant and due shard (WriteGate.updateGrouped) instead of one scan of call_schedules each. Only an
  // advance without events, from a copy that passes advanceOccurrence's own checks; false leaves it to that
  // path.
  private async advanceWithOthers(_id: Types.ObjectId, version: number, occurrenceAt: Date, set: Partial<ScheduleFields>, occurrencesUsed: number, change?: ScheduleChange): Promise<boolean> {
    if (change && change.events.length > 0) return false;
    const copy = this.gate.recall(_id);
    const slot = dueSlotOf(occurrenceAt);
    const shard = dueShardOf(_id.toHexString());
    if (!copy || !awaitsOccurrence(copy, version, occurrenceAt) || copy.due_slot !== slot || copy.due_shard !== shard) return false;
    const { last_updated, ...rest } = set;
    const advance = withDueSlot({ ...rest, occurrence_count: copy.occurrence_count + occurrencesUsed } as Record<string, unknown>);
    const res = await this.gate.updateGrouped(copy, {
      key: JSON.stringify([occurrenceAt.getTime(), shard, advance]),
      // The shard first: the stand-in tests pushed-down equalities in this order, each test reading into the
      // row's document again, and the shard lets through at most a 64th of any collection, whatever is due.
      // At 100,000 schedules a statement took 1,033-1,385 ms with status first, 775-916 ms with the shard
      // first (0034, addendum).
      where: { due_shard: shard, due_slot: slot, next_execution: occurrenceAt, status: 'scheduled' },
      set: advance,
      stamp: last_updated ? { field: 'last_updated', at: last_updated } : undefined,
    });
    return res?.changed === true;
  }

  async recordCallProgress(id: string, onlyIfStatusIn: ScheduleStatus[] | null, set: Partial<ScheduleFields>, change?: ScheduleChange): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    const res = await this.update(_id, (s) => withEvents(s, !s.deleted_at && (!onlyIfStatusIn || onlyIfStatusIn.includes(s.status as ScheduleStatus)) ? set : null, change));
    return res?.changed === true;
  }

  // A one-time schedule whose dial a later job makes (a deferral, the reconciler's re-dial): running →
  // pending, written before that job, so the job's run never finds it running. Only from running: a final
  // callback or another ending may already have moved it.
  // A repeating schedule, or one not running here, has nothing to wait for: no write.
  async awaitDialJob(schedule: Pick<Schedule, 'id' | 'repeat_config' | 'status'>, now: Date): Promise<boolean> {
    if (schedule.repeat_config || schedule.status !== 'running') return false;
    return this.recordCallProgress(schedule.id, ['running'], { status: 'pending', last_updated: now });
  }

  // A call's outcome in one write: `set` always, and `status` too when the schedule reads one of `statusFrom`
  // (a one-time schedule's end, or its wait for the next attempt). Returns whether the write carried it.
  async recordCallOutcome(id: string, set: Partial<ScheduleFields>, status: ScheduleStatus, statusFrom: ScheduleStatus[]): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    let moves = false;
    const res = await this.update(_id, (s) => {
      moves = !s.deleted_at && statusFrom.includes(s.status as ScheduleStatus);
      return s.deleted_at ? null : moves ? { ...set, status } : set;
    });
    return res?.changed === true && moves;
  }

  async softDelete(id: string, version: number, fromStatuses: ScheduleStatus[], now: Date, change?: ScheduleChange): Promise<boolean> {
    const _id = toObjectId(id);
    if (!_id) return false;
    const res = await this.update(_id, (s) =>
      withEvents(s, !s.deleted_at && s.version === version && fromStatuses.includes(s.status as ScheduleStatus) ? { deleted_at: now, last_updated: now, version: version + 1 } : null, change),
    );
    return res?.changed === true;
  }

  // The sweeper's catch-up read: every schedule due by `horizon`, in due order, whatever its slot (stored
  // without one by an earlier version, or due before the slots the polls read), a page at a time after
  // `after`. The whole documents are remembered (FerretDB reads them whole for the filter anyway), so that
  // the dispatch of one due now need not read it again (see recalled).
  async findDueSchedules(horizon: Date, limit: number, after?: { id: string; next_execution: Date }): Promise<Array<{ id: string; next_execution: Date }>> {
    const query: Record<string, unknown> = dueBy(horizon);
    if (after) query.$or = [{ next_execution: op({ $gt: after.next_execution }) }, { next_execution: after.next_execution, _id: op({ $gt: new Types.ObjectId(after.id) }) }];
    const docs = await this.schedules.find(query).sort({ next_execution: 1, _id: 1 }).limit(limit).lean<LeanSchedule[]>();
    return this.rememberDue(docs);
  }

  // A poll's read: the same, within the given due slots (due-slot.ts). One query per slot, whose equality is
  // what FerretDB pushes down to PostgreSQL (and an index lookup on MongoDB); the range and the sort then
  // see only that slot's schedules.
  async findDueInSlots(slots: number[], horizon: Date, limit: number): Promise<Array<{ id: string; next_execution: Date }>> {
    const perSlot = await Promise.all(
      slots.map((due_slot) =>
        this.schedules
          .find({ due_slot, ...dueBy(horizon) })
          .sort({ next_execution: 1, due_shard: 1 })
          .limit(limit)
          .lean<LeanSchedule[]>(),
      ),
    );
    // One due time falls in one slot, so each slot's shard order survives this (stable) sort.
    const docs = perSlot.flat().sort((a, b) => (a.next_execution as Date).getTime() - (b.next_execution as Date).getTime());
    return this.rememberDue(docs.slice(0, limit));
  }

  private rememberDue(docs: LeanSchedule[]): Array<{ id: string; next_execution: Date }> {
    return docs.map((d) => {
      this.gate.remember(d);
      return { id: d._id.toHexString(), next_execution: d.next_execution as Date };
    });
  }

  // Where the copy this process remembers has the schedule due: its due time, null when it is not due (no
  // longer scheduled, or deleted), undefined when no copy is remembered. The copy holds the newer of this
  // process's last read and last write (WriteGate.remember), so it is never older than a read it has seen.
  rememberedDueTime(id: string): Date | null | undefined {
    const _id = toObjectId(id);
    const doc = _id ? this.gate.recall(_id) : null;
    if (!doc) return undefined;
    return doc.status === 'scheduled' && !doc.deleted_at ? ((doc.next_execution as Date | null) ?? null) : null;
  }

  // The copy this process last read or wrote, if recent (WriteGate.recall), without a database read.
  // It may be stale: only a write through the gate proves it current, so a caller may act on it only
  // where that write follows and decides (the dispatcher's claim is undone when its advance is refused).
  recalled(id: string): Schedule | null {
    const _id = toObjectId(id);
    const doc = _id ? this.gate.recall(_id) : null;
    return doc && !doc.deleted_at ? toSchedule(doc) : null;
  }

  // GET /schedule/active: the live schedules themselves, in due order. (An `active_schedules` mirror
  // served this until it cost three database commands on every state change and could go stale.)
  // job_id stays in the shape for clients of the old API; schedules have no job of their own.
  async listActive(scope: TenantScope, limit: number, offset: number): Promise<{ items: ActiveScheduleRecord[]; total: number }> {
    const query = { deleted_at: null, status: op({ $in: [...LIVE_SCHEDULE_STATUSES] }), ...scopeFilter(scope) };
    const [docs, total] = await findPageWithin<CallScheduleDoc, LeanSchedule>(this.schedules, query, { next_execution: 1, _id: 1 }, { offset, limit }, this.config.apiQueryMaxTimeMs);
    return {
      items: docs.map((d) => ({
        schedule_id: d._id.toHexString(),
        tenant_id: d.tenant_id,
        agent_instance_id: d.agent_instance_id ?? null,
        job_id: null,
        next_execution: d.next_execution ?? null,
        status: d.status as ScheduleStatus,
        created_at: d.created_at,
        last_updated: d.last_updated,
      })),
      total,
    };
  }

  async ensureIndexes(): Promise<void> {
    await this.schedules.syncIndexes();
  }

  // Changes whose events were stored and whose writer stopped before the write: each is written from its
  // gate (a takeover) once the gate is old enough, so no event announces a change that never lands. A
  // create that stopped before its creation records were stored hands them to `finishCreation`. Returns
  // how many this pass wrote.
  async finishStalledChanges(limit: number, finishCreation: (schedule: Schedule, audit: NewAuditEntry | null) => Promise<void>): Promise<number> {
    const markers = await this.pendingChanges.find({}).limit(limit).lean<Array<{ _id: string; at: Date; audit?: NewAuditEntry }>>();
    let finished = 0;
    for (const { _id: marker, at, audit } of markers) {
      if (marker.endsWith(CREATION_MARKER)) {
        if (Date.now() - at.getTime() < CREATION_STALL_MS) continue;
        const _id = toObjectId(marker.slice(0, -CREATION_MARKER.length));
        const doc = _id ? await this.schedules.findOne({ _id }).lean<LeanSchedule>() : null;
        // A create whose insert failed undid it, deleted at its own creation time (every create did before
        // 2026-12-07; one without an Idempotency-Key still does): nothing to announce. One the client deleted
        // since was created all the same, and is announced (and audited) as such.
        if (doc && !(doc.deleted_at && doc.deleted_at.getTime() <= doc.created_at.getTime())) {
          await finishCreation(toSchedule(doc), audit ?? null);
          finished++;
        }
        // Under its time: a marker renewed meanwhile (a create taken over) is left for a later pass.
        await this.pendingChanges.deleteOne({ _id: marker, at });
        continue;
      }
      const [id, rev] = marker.split(':');
      const _id = toObjectId(id);
      const outcome = _id ? await this.gate.finishIfStalled(_id, Number(rev) - 1) : 'written';
      if (outcome === 'waiting') continue;
      if (outcome === 'finished') finished++;
      await this.pendingChanges.deleteOne({ _id: marker });
    }
    return finished;
  }

  // One-time schedules running since before `updatedBefore`, in id pages (the {status, next_execution}
  // index narrows to the few in-flight ones): the outcome sweep checks each against its latest call.
  async findRunningOneTime(afterId: string | null, limit: number, updatedBefore: Date): Promise<Schedule[]> {
    const after = afterId ? toObjectId(afterId) : null;
    const docs = await this.schedules
      .find({ status: 'running', deleted_at: null, repeat_config: null, last_updated: op({ $lt: updatedBefore }), ...(after ? { _id: op({ $gt: after }) } : {}) })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<LeanSchedule[]>();
    return docs.map(toSchedule);
  }
}
