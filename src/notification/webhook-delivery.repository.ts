import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { TenantScope } from '../auth/principal';
import { isDuplicateKeyError, op, retryOnLockContention, timedDerivedObjectId, toObjectId } from '../common/mongo/mongo-query';
import { WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { recordFilter, tenantFilter } from './tenant-filter';
import { WEBHOOK_DELIVERY_WRITE_GATE, WebhookDeliveryDoc } from './schemas/webhook-delivery.schema';
import { DeliveryAttempt, DeliveryStatus, OPEN_DELIVERY_STATUSES, WebhookDelivery } from './notification.types';

type LeanDelivery = WebhookDeliveryDoc & { _id: Types.ObjectId; rev?: number | null };
export type NewDelivery = Pick<WebhookDelivery, 'tenant_id' | 'subscription_id' | 'event_id' | 'event_type' | 'payload' | 'redelivery_of'>;

export const FREE_LEASE = new Date(0);

function toDelivery({ _id, rev: _rev, ...rest }: LeanDelivery): WebhookDelivery {
  return { id: _id.toHexString(), ...(rest as unknown as Omit<WebhookDelivery, 'id'>) };
}

export interface DeliveryListFilter {
  subscription_id?: string;
  status?: DeliveryStatus;
}

export interface AttemptResult {
  attempt: DeliveryAttempt;
  status: DeliveryStatus;
  next_attempt_at: Date | null;
}

@Injectable()
export class WebhookDeliveryRepository {
  // A delivery is leased, recorded, cancelled and re-armed by inline sends, Agenda jobs and redeliveries,
  // possibly at once on several instances: every write after the insert goes through the gate (see WriteGate).
  private readonly gate: WriteGate<LeanDelivery>;

  constructor(
    @InjectModel(WebhookDeliveryDoc.name) private readonly deliveries: Model<WebhookDeliveryDoc>,
    @InjectModel(WEBHOOK_DELIVERY_WRITE_GATE) gates: Model<WriteGateDoc>,
  ) {
    this.gate = new WriteGate<LeanDelivery>(deliveries, gates);
  }

  // An event's first delivery to a subscription has an id derived from the two (timed by the event id, so
  // that listings newest first by _id still hold): fanning the same event out again, after a crash part
  // way, finds the delivery already there instead of sending it twice. A redelivery is a new record.
  async create(fields: NewDelivery, now: Date): Promise<WebhookDelivery> {
    const eventId = fields.redelivery_of === null ? toObjectId(fields.event_id) : null;
    const _id = eventId ? timedDerivedObjectId(eventId.getTimestamp(), fields.event_id, fields.subscription_id) : new Types.ObjectId();
    try {
      const doc = await retryOnLockContention(() =>
        this.deliveries.create({
          _id,
          ...fields,
          status: 'pending',
          attempt_count: 0,
          attempts: [],
          next_attempt_at: now,
          lease_until: FREE_LEASE,
          job_id: null,
          last_error: null,
          delivered_at: null,
          created_at: now,
          updated_at: now,
        }),
      );
      return toDelivery(doc.toObject() as LeanDelivery);
    } catch (error) {
      const existing = eventId && isDuplicateKeyError(error) ? await this.deliveries.findById(_id).lean<LeanDelivery>() : null;
      if (!existing) throw error;
      return toDelivery(existing);
    }
  }

  findById(id: string): Promise<WebhookDelivery | null> {
    return this.findForTenant(id, null);
  }

  async findForTenant(id: string, scope: TenantScope | null): Promise<WebhookDelivery | null> {
    const filter = recordFilter(id, scope);
    if (!filter) return null;
    const doc = await this.deliveries.findOne(filter).lean<LeanDelivery>();
    return doc ? toDelivery(doc) : null;
  }

  async listForTenant(scope: TenantScope, filter: DeliveryListFilter, limit: number, offset: number): Promise<{ items: WebhookDelivery[]; total: number }> {
    const query = tenantFilter(scope);
    if (filter.subscription_id) query.subscription_id = filter.subscription_id;
    if (filter.status) query.status = filter.status;
    const [docs, total] = await Promise.all([
      this.deliveries.find(query).sort({ _id: -1 }).skip(offset).limit(limit).lean<LeanDelivery[]>(),
      this.deliveries.countDocuments(query),
    ]);
    return { items: docs.map(toDelivery), total };
  }

  // The one gate before a POST: an open delivery that is due and not leased. Whoever wins sends; an
  // inline attempt and an Agenda retry of the same delivery can never both be in flight.
  async claimDue(id: string, now: Date, leaseUntil: Date): Promise<WebhookDelivery | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    // The lease is checked on the gated read: of concurrent claimants only the first write finds it free.
    const res = await this.gate.update(_id, (d) =>
      OPEN_DELIVERY_STATUSES.includes(d.status as DeliveryStatus) && d.next_attempt_at !== null && d.next_attempt_at.getTime() <= now.getTime() && d.lease_until.getTime() < now.getTime()
        ? { lease_until: leaseUntil, updated_at: now }
        : null,
    );
    return res?.changed ? toDelivery(res.doc) : null;
  }

  async recordAttempt(id: string, result: AttemptResult, now: Date): Promise<void> {
    // Not $inc/$push, which FerretDB applies to a stale read (20 concurrent ones leave 1): the count and the
    // list are computed from the delivery as the previous gated write left it, so no attempt is lost.
    await this.gate.update(new Types.ObjectId(id), (d) => ({
      status: result.status,
      next_attempt_at: result.next_attempt_at,
      lease_until: FREE_LEASE,
      last_error: result.attempt.error ?? (result.attempt.status_code !== null && result.status !== 'delivered' ? `HTTP ${result.attempt.status_code}` : null),
      updated_at: now,
      ...(result.status === 'delivered' ? { delivered_at: now } : {}),
      attempt_count: (d.attempt_count ?? 0) + 1,
      attempts: [...(d.attempts ?? []), result.attempt],
    }));
  }

  async cancel(id: string, reason: string, now: Date): Promise<void> {
    await this.gate.update(new Types.ObjectId(id), (d) =>
      OPEN_DELIVERY_STATUSES.includes(d.status as DeliveryStatus) ? { status: 'cancelled', last_error: reason, next_attempt_at: null, lease_until: FREE_LEASE, updated_at: now } : null,
    );
  }

  async setJobId(id: string, jobId: string): Promise<void> {
    await this.gate.update(new Types.ObjectId(id), () => ({ job_id: jobId }));
  }

  // Open deliveries overdue by more than the grace and not leased: their process died before arming a retry.
  async findStranded(overdueBefore: Date, now: Date, limit: number): Promise<WebhookDelivery[]> {
    const docs = await this.deliveries
      .find({ status: op({ $in: OPEN_DELIVERY_STATUSES }), next_attempt_at: op({ $lt: overdueBefore }), lease_until: op({ $lt: now }) })
      .sort({ next_attempt_at: 1 })
      .limit(limit)
      .lean<LeanDelivery[]>();
    return docs.map(toDelivery);
  }

  async pruneFinishedBefore(cutoff: Date): Promise<number> {
    const res = await this.deliveries.deleteMany({ status: op({ $in: ['delivered', 'dead', 'cancelled'] }), updated_at: op({ $lt: cutoff }) });
    return res.deletedCount;
  }

  async ensureIndexes(): Promise<void> {
    await this.deliveries.syncIndexes();
  }
}
