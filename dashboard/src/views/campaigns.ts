import { Api, ApiError } from '../api';
import { h } from '../dom';
import { humanStatus } from '../format';
import { Campaign } from '../types';

const COUNTERS = ['pending', 'in_progress', 'not_reached', 'completed', 'failed', 'skipped', 'exhausted'] as const;
type Counter = (typeof COUNTERS)[number];
const DONE: Counter[] = ['completed', 'failed', 'skipped', 'exhausted'];

export interface CampaignRow {
  id: string;
  name: string;
  status: string;
  counts: Partial<Record<Counter, number>>;
  total: number;
}

export type Campaigns = { available: false } | { available: true; rows: CampaignRow[]; total: number };

const MAX_SHOWN = 10;

type Progress = Partial<Record<Counter | 'total', number>>;

function progressOf(c: Campaign): Progress | null {
  return typeof c.progress === 'object' && c.progress !== null ? (c.progress as Progress) : null;
}

function toRow(c: Campaign): CampaignRow | null {
  const id = String(c.id ?? '');
  if (!id) return null;
  const progress = progressOf(c) ?? {};
  const counts: CampaignRow['counts'] = {};
  for (const k of COUNTERS) if (typeof progress[k] === 'number') counts[k] = progress[k];
  const total = progress.total ?? Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  return { id, name: String(c.name ?? id), status: String(c.status ?? 'unknown'), counts, total };
}

// Counters of finished campaigns no longer change: they are fetched once per page load.
const FINISHED = new Set(['completed', 'cancelled']);
const finishedRows = new Map<string, CampaignRow>();

// The list has no counters; GET /campaigns/{id} has them as `progress`.
async function withCounters(api: Api, c: Campaign): Promise<CampaignRow | null> {
  if (progressOf(c)) return toRow(c);
  const id = String(c.id ?? '');
  if (!id) return null;
  const cached = finishedRows.get(id);
  if (cached && cached.status === c.status) return cached;
  // Deleted between the list and this request: shown without counters until the next refresh.
  const detail = await api.get<Record<string, unknown>>(`/campaigns/${encodeURIComponent(id)}`).catch((error: unknown) => {
    if (error instanceof ApiError && error.httpStatus === 404) return null;
    throw error;
  });
  const full = detail && typeof detail.campaign === 'object' && detail.campaign !== null ? (detail.campaign as Campaign) : null;
  const row = toRow({ ...c, ...(full ?? {}) });
  if (row && full && FINISHED.has(row.status)) finishedRows.set(id, row);
  return row;
}

// The campaigns API may not exist on this server (older version): a 404 shows a note instead.
export async function loadCampaigns(api: Api): Promise<Campaigns> {
  let body: Record<string, unknown>;
  try {
    body = await api.get<Record<string, unknown>>('/campaigns', { limit: MAX_SHOWN });
  } catch (error) {
    if (error instanceof ApiError && (error.httpStatus === 404 || error.httpStatus === 405)) return { available: false };
    throw error;
  }
  const list = (Array.isArray(body.campaigns) ? body.campaigns : []) as Campaign[];
  const rows = await Promise.all(list.slice(0, MAX_SHOWN).map((c) => withCounters(api, c)));
  const total = typeof body.total === 'number' ? body.total : list.length;
  return { available: true, rows: rows.filter((r): r is CampaignRow => r !== null), total };
}

export function renderCampaigns(data: Campaigns): Node {
  if (!data.available) {
    return h('p', { class: 'empty', 'data-testid': 'campaigns-unavailable' }, 'Campaigns are not available on this server.');
  }
  if (data.rows.length === 0) return h('p', { class: 'empty', 'data-testid': 'campaigns-empty' }, 'No campaigns yet.');
  const list = h('ul', { class: 'campaigns', 'data-testid': 'campaigns-list' });
  for (const c of data.rows) {
    const done = DONE.reduce((sum, k) => sum + (c.counts[k] ?? 0), 0);
    const pct = c.total > 0 ? Math.round((done / c.total) * 100) : 0;
    const labelId = `campaign-${c.id}-label`;
    list.append(
      h(
        'li',
        { class: 'campaign', 'data-testid': 'campaign-row', 'data-campaign-id': c.id, 'data-status': c.status },
        h(
          'div',
          { class: 'call-head' },
          h('strong', { id: labelId }, c.name),
          h('span', { class: `badge status-${c.status}` }, humanStatus(c.status)),
          h('span', { class: 'muted', 'data-testid': 'campaign-summary' }, c.total > 0 ? `${done} of ${c.total} contacts done (${pct}%)` : 'No contacts yet'),
        ),
        h('progress', { max: Math.max(c.total, 1), value: done, 'aria-labelledby': labelId, 'data-testid': 'campaign-progress' }, `${pct}%`),
        h(
          'dl',
          { class: 'counters' },
          ...COUNTERS.filter((k) => c.counts[k] !== undefined).flatMap((k) => [
            h('div', {}, h('dt', {}, humanStatus(k)), h('dd', {}, String(c.counts[k]))),
          ]),
        ),
      ),
    );
  }
  const more = data.total > data.rows.length ? h('p', { class: 'muted' }, `Latest ${data.rows.length} of ${data.total} campaigns.`) : null;
  return h('div', {}, list, more);
}
