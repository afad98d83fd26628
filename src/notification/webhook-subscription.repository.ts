import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { TenantScope } from '../auth/principal';
import { WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { recordFilter, tenantFilter } from './tenant-filter';
import { WEBHOOK_SUBSCRIPTION_WRITE_GATE, WebhookSubscriptionDoc } from './schemas/webhook-subscription.schema';
import { WebhookSubscription } from './notification.types';

type LeanSubscription = WebhookSubscriptionDoc & { _id: Types.ObjectId; rev?: number | null };
export type SubscriptionChanges = Partial<Pick<WebhookSubscription, 'url' | 'events' | 'secret' | 'active' | 'description'>>;

function toSubscription({ _id, rev: _rev, ...rest }: LeanSubscription): WebhookSubscription {
  return { id: _id.toHexString(), ...(rest as Omit<WebhookSubscription, 'id'>) };
}

// Every domain event reads its tenant's active subscriptions: within this long the answer is reused (one
// read per tenant and second in a burst instead of one per event). A change made on this instance clears it
// at once; one made on another instance reaches this one's deliveries within this delay.
const ACTIVE_CACHE_MS = 1000;

@Injectable()
export class WebhookSubscriptionRepository {
  private readonly gate: WriteGate<LeanSubscription>;
  private readonly activeByTenant = new Map<string, { at: number; subscriptions: Promise<WebhookSubscription[]> }>();

  constructor(
    @InjectModel(WebhookSubscriptionDoc.name) private readonly subscriptions: Model<WebhookSubscriptionDoc>,
    @InjectModel(WEBHOOK_SUBSCRIPTION_WRITE_GATE) gates: Model<WriteGateDoc>,
  ) {
    this.gate = new WriteGate<LeanSubscription>(subscriptions, gates);
  }

  async create(fields: Omit<WebhookSubscription, 'id'>): Promise<WebhookSubscription> {
    const doc = await this.subscriptions.create(fields);
    this.activeByTenant.clear();
    return toSubscription(doc.toObject() as LeanSubscription);
  }

  findById(id: string): Promise<WebhookSubscription | null> {
    return this.findForTenant(id, null);
  }

  async findForTenant(id: string, scope: TenantScope | null): Promise<WebhookSubscription | null> {
    const filter = recordFilter(id, scope);
    if (!filter) return null;
    const doc = await this.subscriptions.findOne(filter).lean<LeanSubscription>();
    return doc ? toSubscription(doc) : null;
  }

  async listForTenant(scope: TenantScope, limit: number, offset: number): Promise<{ items: WebhookSubscription[]; total: number }> {
    const filter = tenantFilter(scope);
    const [docs, total] = await Promise.all([
      this.subscriptions.find(filter).sort({ _id: -1 }).skip(offset).limit(limit).lean<LeanSubscription[]>(),
      this.subscriptions.countDocuments(filter),
    ]);
    return { items: docs.map(toSubscription), total };
  }

  findActiveForTenant(tenantId: string): Promise<WebhookSubscription[]> {
    const cached = this.activeByTenant.get(tenantId);
    if (cached && Date.now() - cached.at < ACTIVE_CACHE_MS) return cached.subscriptions;
    const subscriptions = this.subscriptions
      .find({ tenant_id: tenantId, active: true })
      .lean<LeanSubscription[]>()
      .then((docs) => docs.map(toSubscription));
    const entry = { at: Date.now(), subscriptions };
    this.activeByTenant.set(tenantId, entry);
    // A failed read is not remembered.
    subscriptions.catch(() => this.activeByTenant.get(tenantId) === entry && this.activeByTenant.delete(tenantId));
    return subscriptions;
  }

  async updateForTenant(id: string, scope: TenantScope, changes: SubscriptionChanges, now: Date): Promise<WebhookSubscription | null> {
    const filter = recordFilter(id, scope);
    if (!filter) return null;
    // Gated: two PATCHes of one subscription at once each land on the other's result, none is lost.
    const set = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
    const res = await this.gate.update(filter._id as Types.ObjectId, (doc) => (scope.isAdmin || doc.tenant_id === scope.tenantId ? { ...set, updated_at: now } : null));
    this.activeByTenant.clear();
    return res ? toSubscription(res.doc) : null;
  }

  async deleteForTenant(id: string, scope: TenantScope): Promise<boolean> {
    const filter = recordFilter(id, scope);
    if (!filter) return false;
    const res = await this.subscriptions.deleteOne(filter);
    this.activeByTenant.clear();
    return res.deletedCount === 1;
  }

  async ensureIndexes(): Promise<void> {
    await this.subscriptions.syncIndexes();
  }
}
