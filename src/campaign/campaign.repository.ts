import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { TenantScope } from '../auth/principal';
import { op, toObjectId } from '../common/mongo/mongo-query';
import { WriteGate, WriteGateDoc } from '../common/mongo/write-gate';
import { Campaign, CampaignStatus } from './campaign.types';
import { CAMPAIGN_WRITE_GATE, CampaignDoc } from './schemas/campaign.schema';

type LeanCampaign = CampaignDoc & { _id: Types.ObjectId; rev?: number | null };
export type NewCampaign = Omit<Campaign, 'id'>;

function toCampaign(doc: LeanCampaign): Campaign {
  const { _id, deleted_at: _d, rev: _rev, ...rest } = doc;
  return { id: _id.toHexString(), ...(rest as unknown as Omit<Campaign, 'id'>) };
}

function tenantFilter(scope: TenantScope): Record<string, unknown> {
  return scope.isAdmin ? {} : { tenant_id: scope.tenantId };
}

@Injectable()
export class CampaignRepository {
  // Status changes (API, the tick completing it) and settings edits go through the gate (see WriteGate).
  private readonly gate: WriteGate<LeanCampaign>;

  constructor(
    @InjectModel(CampaignDoc.name) private readonly campaigns: Model<CampaignDoc>,
    @InjectModel(CAMPAIGN_WRITE_GATE) gates: Model<WriteGateDoc>,
  ) {
    this.gate = new WriteGate<LeanCampaign>(campaigns, gates);
  }

  async insertCampaign(fields: NewCampaign): Promise<Campaign> {
    const created = await this.campaigns.create({ ...fields, deleted_at: null });
    return toCampaign(created.toObject() as LeanCampaign);
  }

  async findById(id: string): Promise<Campaign | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.campaigns.findOne({ _id, deleted_at: null }).lean<LeanCampaign>();
    return doc ? toCampaign(doc) : null;
  }

  async findForTenant(id: string, scope: TenantScope): Promise<Campaign | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    const doc = await this.campaigns.findOne({ _id, deleted_at: null, ...tenantFilter(scope) }).lean<LeanCampaign>();
    return doc ? toCampaign(doc) : null;
  }

  async listForTenant(scope: TenantScope, status: CampaignStatus | undefined, limit: number, offset: number): Promise<{ items: Campaign[]; total: number }> {
    const query: Record<string, unknown> = { deleted_at: null, ...tenantFilter(scope) };
    if (status) query.status = status;
    const [docs, total] = await Promise.all([
      this.campaigns.find(query).sort({ created_at: -1, _id: -1 }).skip(offset).limit(limit).lean<LeanCampaign[]>(),
      this.campaigns.countDocuments(query),
    ]);
    return { items: docs.map(toCampaign), total };
  }

  async listRunning(limit: number): Promise<Campaign[]> {
    const docs = await this.campaigns.find({ status: 'running', deleted_at: null }).sort({ priority: -1, _id: 1 }).limit(limit).lean<LeanCampaign[]>();
    return docs.map(toCampaign);
  }

  async listRunningDueDateCampaigns(tenantId: string): Promise<Campaign[]> {
    const docs = await this.campaigns
      .find({ tenant_id: tenantId, status: 'running', deleted_at: null, call_days_before: op({ $ne: null }) })
      .sort({ priority: -1, _id: 1 })
      .lean<LeanCampaign[]>();
    return docs.map(toCampaign);
  }

  async listTenantsWithRunningDueDateCampaigns(): Promise<string[]> {
    const docs = await this.campaigns.find({ status: 'running', deleted_at: null, call_days_before: op({ $ne: null }) }, { tenant_id: 1 }).lean<Array<{ tenant_id: string }>>();
    return [...new Set(docs.map((d) => d.tenant_id))];
  }

  async changeStatus(id: string, from: CampaignStatus[], to: CampaignStatus, now: Date): Promise<Campaign | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    // Checked on the gated read: of a pause and a cancel at once, only one moves the campaign from `from`.
    const res = await this.gate.update(_id, (c) => (!c.deleted_at && from.includes(c.status as CampaignStatus) ? { status: to, updated_at: now } : null));
    return res?.changed ? this.findById(id) : null;
  }

  async updateFields(id: string, set: Partial<NewCampaign>, now: Date): Promise<Campaign | null> {
    const _id = toObjectId(id);
    if (!_id) return null;
    await this.gate.update(_id, (c) => (!c.deleted_at ? { ...set, updated_at: now } : null));
    return this.findById(id);
  }

  async ensureIndexes(): Promise<void> {
    await this.campaigns.syncIndexes();
  }
}
