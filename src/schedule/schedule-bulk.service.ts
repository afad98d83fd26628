import { Injectable } from '@nestjs/common';
import { derivedObjectId } from '../common/mongo/mongo-query';
import { Principal } from '../auth/principal';
import { Clock } from '../common/clock/clock';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { isPlainObject } from '../common/validation/free-object';
import { createValidationPipe } from '../common/validation/validation.pipe';
import { AppConfig } from '../config/app-config';
import { ScheduleChangedEvent } from '../notification/domain-events';
import { BulkRequestRepository } from './bulk-request.repository';
import { DispatchTrigger } from './dispatch/dispatch-trigger';
import { CreateScheduleDto } from './dto/create-schedule.dto';
import { IdempotencyKeyRepository } from './idempotency-key.repository';
import { buildDefinition, definitionContextFor, newScheduleFields, ScheduleDefinition, withAgentInstance } from './schedule-definition';
import { creationOf, ScheduleOutbox } from './schedule-outbox';
import { IdempotencyKeyConflictException } from './schedule.exceptions';
import { ScheduleRepository } from './schedule.repository';
import { canonicalHash } from './schedule.service';
import { Schedule } from './schedule.types';

export const MAX_BULK_SCHEDULES = 10_000;
const INSERT_CHUNK = 1000;
const REPLAY_WAIT_MS = 60_000;
const ANNOUNCE_SLICE = 100;
const SCOPE = 'schedule.bulk';

export type BulkItemResult =
  | { index: number; status: 'created'; schedule_id: string; next_execution: string | null }
  | { index: number; status: 'rejected'; error_code: ErrorCode; field: string | null; message: string };

interface ValidItem {
  index: number;
  id: string;
  definition: ScheduleDefinition;
}

// With an Idempotency-Key the schedule ids are derived from (tenant, key, body, index): a request retried
// after a failure or a crash, or replayed while the first one still runs, meets its own schedules as
// duplicates instead of creating them twice. The body is in it for a key reused after its retention: another
// body under it makes new schedules, not the old ones' duplicates.
function derivedId(tenantId: string, key: string, requestHash: string, index: number): string {
  return derivedObjectId(tenantId, key, requestHash, String(index)).toHexString();
}

// POST /schedule/bulk: every item is checked like POST /schedule/ on its own, and a bad item is reported
// without sinking the others. Valid ones are written in unordered batches.
@Injectable()
export class ScheduleBulkService {
  private readonly pipe = createValidationPipe();

  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly outbox: ScheduleOutbox,
    private readonly idempotency: IdempotencyKeyRepository,
    private readonly bulkRequests: BulkRequestRepository,
    private readonly trigger: DispatchTrigger,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  async createMany(principal: Principal, items: unknown[], idempotencyKey?: string): Promise<{ results: BulkItemResult[]; replayed: boolean }> {
    const now = this.clock.now();
    let bulkId = this.schedules.newId();
    const requestHash = idempotencyKey ? canonicalHash(items) : '';
    if (idempotencyKey) {
      const reservation = await this.idempotency.reserveKey({ tenantId: principal.tenantId, scope: SCOPE, key: idempotencyKey, requestHash, resourceId: bulkId, now });
      if (!reservation.reserved) {
        if (reservation.requestHash !== requestHash) throw new IdempotencyKeyConflictException();
        const stored = await this.awaitResults(reservation.resourceId, principal.tenantId);
        if (stored) return { results: stored, replayed: true };
        // The first request died before answering: finish its work (its schedules come back as duplicates).
        bulkId = reservation.resourceId;
      }
    }
    try {
      const results = await this.process(principal, items, idempotencyKey ? { key: idempotencyKey, requestHash } : null, now);
      if (idempotencyKey) await this.bulkRequests.saveResults(bulkId, principal.tenantId, results, now);
      return { results, replayed: false };
    } catch (error) {
      // Freed for the client's retry, which finds what this one made by the derived ids.
      if (idempotencyKey) await this.idempotency.releaseKey(principal.tenantId, SCOPE, idempotencyKey, bulkId).catch(() => undefined);
      throw error;
    }
  }

  private async process(principal: Principal, items: unknown[], keyed: { key: string; requestHash: string } | null, now: Date): Promise<BulkItemResult[]> {
    const results: BulkItemResult[] = new Array(items.length);
    const valid: ValidItem[] = [];
    const context = definitionContextFor(this.config, now);
    for (let index = 0; index < items.length; index++) {
      try {
        const dto = await this.validate(items[index]);
        const definition = withAgentInstance(principal, buildDefinition(dto, context));
        valid.push({ index, id: keyed ? derivedId(principal.tenantId, keyed.key, keyed.requestHash, index) : this.schedules.newId(), definition });
      } catch (error) {
        if (!(error instanceof AppException)) throw error;
        results[index] = { index, status: 'rejected', error_code: error.code, field: error.details.field, message: error.message };
      }
    }
    for (let i = 0; i < valid.length; i += INSERT_CHUNK) {
      for (const schedule of await this.insertChunk(principal, valid.slice(i, i + INSERT_CHUNK), now)) {
        results[schedule.index] = { index: schedule.index, status: 'created', schedule_id: schedule.id, next_execution: schedule.next_execution?.toISOString() ?? null };
      }
    }
    return results;
  }

  private async validate(item: unknown): Promise<CreateScheduleDto> {
    if (!isPlainObject(item)) throw new AppException('VALIDATION_004', { field: null, issue: 'Each schedule must be a JSON object' }, 'Each schedule must be a JSON object');
    return (await this.pipe.transform(item, { type: 'body', metatype: CreateScheduleDto })) as CreateScheduleDto;
  }

  // Like ScheduleService.create, a batch at a time: one unordered insert of the schedules, then their
  // created events (history entries and notifications, each kind in shared inserts) before the response.
  private async insertChunk(principal: Principal, chunk: ValidItem[], now: Date): Promise<Array<Schedule & { index: number }>> {
    const docs = chunk.map((item) => ({ item, schedule: { id: item.id, ...newScheduleFields(item.definition, principal, now) } as Schedule }));
    // Already created by an earlier run of this request: that schedule is kept.
    const { duplicateIds } = await this.schedules.insertMany(docs.map(({ schedule: { id, ...fields } }) => ({ id, fields })));
    // The earlier run may have stopped before their events: stored for every schedule of the chunk, which
    // stores nothing twice. Under keys, not the schedules' ids: a key-derived id's time bytes are a hash, a
    // fresh one was minted when the request was validated (seconds ago for a large bulk), and the stream
    // reads events in id order.
    const stored = await Promise.all(docs.map(({ schedule }) => this.outbox.storeCreated(schedule, creationOf(now, 'Schedule created (bulk)'), 'key')));
    this.announce(stored.flat());
    for (const { item, schedule } of docs) if (!duplicateIds.has(item.id)) this.trigger.armed(schedule.id, schedule.status, schedule.next_execution);
    return docs.map(({ item, schedule }) => ({ ...schedule, index: item.index }));
  }

  // Thousands of schedule.created events are published in slices after the batch, not inside the request's
  // critical path: their listeners' synchronous work would otherwise hold the response.
  private announce(events: ScheduleChangedEvent[]): void {
    const slice = (from: number) => {
      this.outbox.publishAll(events.slice(from, from + ANNOUNCE_SLICE));
      if (from + ANNOUNCE_SLICE < events.length) setImmediate(() => slice(from + ANNOUNCE_SLICE));
    };
    setImmediate(() => slice(0));
  }

  // A replay that arrives while the first request still runs waits for its results.
  private async awaitResults(bulkId: string, tenantId: string): Promise<BulkItemResult[] | null> {
    const deadline = Date.now() + REPLAY_WAIT_MS;
    for (;;) {
      const results = await this.bulkRequests.findResults(bulkId, tenantId);
      if (results || Date.now() > deadline) return results;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
