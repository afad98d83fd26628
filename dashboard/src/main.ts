import './styles.css';
import { Api, ApiError } from './api';
import { byTestId, h } from './dom';
import { readClaims, session } from './session';
import { loadRecentCalls, renderRecentCalls } from './views/calls';
import { loadCampaigns, renderCampaigns } from './views/campaigns';
import { loadUpcoming, renderUpcoming, ScheduleAction, upcomingKey, UpcomingRow } from './views/schedules';
import { loadStats, renderChart, renderTiles } from './views/stats';

const DEFAULT_REFRESH_SECONDS = 5;
const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

// ?refresh=N (1-60 seconds) changes the auto-refresh period, e.g. for a wall screen or a test.
function refreshSeconds(): number {
  const n = Number(new URLSearchParams(location.search).get('refresh'));
  return Number.isInteger(n) && n >= 1 && n <= 60 ? n : DEFAULT_REFRESH_SECONDS;
}

const ui = {
  loginPanel: byTestId('login-panel'),
  loginForm: byTestId<HTMLFormElement>('login-form'),
  tokenInput: byTestId<HTMLTextAreaElement>('token-input'),
  loginButton: byTestId<HTMLButtonElement>('login-button'),
  loginError: byTestId('login-error'),
  app: byTestId('app'),
  session: byTestId('session'),
  sessionUser: byTestId('session-user'),
  logout: byTestId<HTMLButtonElement>('logout-button'),
  refreshStatus: byTestId('refresh-status'),
  refreshButton: byTestId<HTMLButtonElement>('refresh-button'),
  actionStatus: byTestId('action-status'),
  statsToday: byTestId('stats-today'),
  statsWeek: byTestId('stats-week'),
  chart: byTestId('stats-chart'),
  upcoming: byTestId('upcoming'),
  calls: byTestId('calls'),
  campaigns: byTestId('campaigns'),
};

let api: Api | null = null;
let generation = 0;
let timer: number | undefined;
const shownKeys = new Map<HTMLElement, string>();

// Redraw a section only when its content changed, so focus, selection and screen readers are not
// disturbed by refreshes that bring nothing new.
function show(el: HTMLElement, key: string, build: () => Node | Node[]): boolean {
  if (shownKeys.get(el) === key) return false;
  // A focused action button is focused again after the redraw: the same button, else (Pause became
  // Resume) the first button of the same schedule.
  const focused = document.activeElement instanceof HTMLElement && el.contains(document.activeElement) ? document.activeElement : null;
  const scheduleId = focused?.dataset.scheduleId;
  const built = build();
  el.replaceChildren(...(Array.isArray(built) ? built : [built]));
  el.removeAttribute('aria-busy');
  shownKeys.set(el, key);
  if (focused && scheduleId) {
    const same = el.querySelector<HTMLElement>(`button[data-testid="${focused.dataset.testid}"][data-schedule-id="${scheduleId}"]`);
    (same ?? el.querySelector<HTMLElement>(`button[data-schedule-id="${scheduleId}"]`))?.focus();
  }
  return true;
}

function showError(el: HTMLElement, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  show(el, `error:${message}`, () => h('p', { class: 'error', role: 'alert', 'data-testid': 'section-error' }, `Could not load: ${message}`));
}

function signOut(reason?: string): void {
  generation++;
  window.clearTimeout(timer);
  api = null;
  session.clear();
  shownKeys.clear();
  for (const el of [ui.statsToday, ui.statsWeek, ui.chart, ui.upcoming, ui.calls, ui.campaigns]) el.replaceChildren();
  ui.app.hidden = true;
  ui.session.hidden = true;
  ui.loginPanel.hidden = false;
  ui.loginError.textContent = reason ?? '';
  ui.actionStatus.textContent = '';
  ui.tokenInput.value = '';
  ui.tokenInput.focus();
}

function describeSession(token: string): string {
  const claims = readClaims(token);
  if (!claims?.sub) return 'Signed in';
  const parts = [`Signed in as ${claims.sub}`];
  if (claims.tenant_id && claims.tenant_id !== claims.sub) parts.push(`tenant ${claims.tenant_id}`);
  if (claims.roles?.includes('admin')) parts.push('admin: all tenants');
  if (claims.exp) parts.push(`token expires ${new Date(claims.exp * 1000).toLocaleString()}`);
  return parts.join(' · ');
}

function startSession(token: string): void {
  api = new Api(token);
  ui.loginPanel.hidden = true;
  ui.loginError.textContent = '';
  ui.app.hidden = false;
  ui.session.hidden = false;
  ui.sessionUser.textContent = describeSession(token);
  for (const el of [ui.upcoming, ui.calls, ui.campaigns, ui.chart]) el.setAttribute('aria-busy', 'true');
  void refresh();
}

async function refresh(): Promise<void> {
  const current = api;
  if (!current) return;
  const gen = ++generation;
  window.clearTimeout(timer);
  const now = Date.now();
  const [stats, upcoming, calls, campaigns] = await Promise.allSettled([
    loadStats(current, timeZone),
    loadUpcoming(current),
    loadRecentCalls(current),
    loadCampaigns(current),
  ]);
  if (gen !== generation) return;
  const rejected = [stats, upcoming, calls, campaigns].find(
    (r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof ApiError && r.reason.unauthorized,
  );
  if (rejected) {
    signOut(`Signed out: ${(rejected.reason as ApiError).message}`);
    return;
  }

  if (stats.status === 'fulfilled') {
    const v = stats.value;
    show(ui.statsToday, JSON.stringify(v.today), () => renderTiles(v.today, 'today'));
    show(ui.statsWeek, JSON.stringify(v.week), () => renderTiles(v.week, 'week'));
    // On a narrow screen the chart scrolls sideways: start at its right end, today.
    if (show(ui.chart, JSON.stringify(v.days), () => renderChart(v))) ui.chart.scrollLeft = ui.chart.scrollWidth;
  } else {
    showError(ui.chart, stats.reason);
  }
  if (upcoming.status === 'fulfilled') {
    show(ui.upcoming, upcomingKey(upcoming.value, now), () => renderUpcoming(upcoming.value, now, runAction));
  } else {
    showError(ui.upcoming, upcoming.reason);
  }
  if (calls.status === 'fulfilled') show(ui.calls, JSON.stringify(calls.value), () => renderRecentCalls(calls.value));
  else showError(ui.calls, calls.reason);
  if (campaigns.status === 'fulfilled') show(ui.campaigns, JSON.stringify(campaigns.value), () => renderCampaigns(campaigns.value));
  else showError(ui.campaigns, campaigns.reason);

  const period = refreshSeconds();
  ui.refreshStatus.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every ${period} s`;
  ui.refreshStatus.dataset.updatedAt = String(Date.now());
  timer = window.setTimeout(() => void refresh(), period * 1000);
}

const PAST: Record<ScheduleAction, string> = { pause: 'paused', resume: 'resumed', cancel: 'cancelled' };

async function runAction(row: UpcomingRow, action: ScheduleAction, button: HTMLButtonElement): Promise<void> {
  const current = api;
  if (!current) return;
  const who = row.phone ?? row.id;
  if (action === 'cancel' && !window.confirm(`Cancel the schedule for ${who}? It will not call again.`)) return;
  button.disabled = true;
  try {
    await current.post(`/schedule/${encodeURIComponent(row.id)}/${action}`);
    ui.actionStatus.className = 'notice';
    ui.actionStatus.textContent = `Schedule for ${who} ${PAST[action]}.`;
  } catch (error) {
    if (error instanceof ApiError && error.unauthorized) return signOut(`Signed out: ${error.message}`);
    ui.actionStatus.className = 'notice error';
    ui.actionStatus.textContent = `Could not ${action} the schedule for ${who}: ${error instanceof Error ? error.message : String(error)}`;
    button.disabled = false;
  }
  await refresh();
}

ui.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void (async () => {
    const token = ui.tokenInput.value.trim().replace(/^Bearer\s+/i, '');
    if (!token) {
      ui.loginError.textContent = 'Paste a token first.';
      return;
    }
    ui.loginButton.disabled = true;
    ui.loginError.textContent = '';
    try {
      await new Api(token).get('/schedule/active', { limit: 1 });
      session.save(token);
      ui.tokenInput.value = '';
      startSession(token);
    } catch (error) {
      ui.loginError.textContent = `Sign-in failed: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      ui.loginButton.disabled = false;
    }
  })();
});

ui.logout.addEventListener('click', () => signOut());
ui.refreshButton.addEventListener('click', () => void refresh());

const saved = session.token();
if (saved) startSession(saved);
else ui.loginPanel.hidden = false;
