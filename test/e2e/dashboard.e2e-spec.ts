import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { BrowserContext, chromium, Page } from 'playwright-core';
import request from 'supertest';
import { DashboardBundle, DEFAULT_DASHBOARD_DIR } from '../../src/dashboard/dashboard-bundle';
import { createTestApp, TestApp } from '../utils/test-app';
import { bearer, tokenFor } from '../utils/tokens';
import { waitFor } from '../utils/wait';

// The dashboard in a real browser: Debian's chromium (apt-get install -y chromium), driven by
// playwright-core through its executablePath. No browser download.
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ROOT = resolve(__dirname, '../..');
const SOURCE = join(ROOT, 'dashboard');
const ARTIFACTS = join(ROOT, 'test', 'artifacts');

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

// `npm test` on a fresh clone has no bundle yet: build it (as `npm run build:dashboard` does) when it
// is missing or older than its sources.
async function ensureDashboardBuilt(): Promise<void> {
  const index = join(DEFAULT_DASHBOARD_DIR, 'index.html');
  const sources = ['index.html', 'vite.config.ts', 'src', 'public'].map((p) => join(SOURCE, p)).filter((p) => existsSync(p));
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...sources.map(newestMtime))) return;
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', SOURCE, '--logLevel', 'warn'], {
    cwd: ROOT,
    timeout: 120_000,
  });
  if (!existsSync(index)) throw new Error(`vite build did not produce ${index}`);
}

describe('Dashboard (headless Chromium)', () => {
  let t: TestApp;
  let context: BrowserContext;
  let page: Page;
  let profileDir: string;
  const token = tokenFor('dash-user');
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (.ci/run does this in CI)`);
    }
    await ensureDashboardBuilt();
    t = await createTestApp();
    profileDir = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 1000 },
      timezoneId: 'UTC',
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${msg.text()}`);
    });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    await t?.close();
  });

  const api = () => request(t.url);
  const scheduleStatus = async (id: string) => (await api().get(`/schedule/${id}`).set(bearer(token)).expect(200)).body.schedule.status as string;
  const createSchedule = async (phone: string, dueInSeconds: number, description: string) => {
    const scheduled_time = new Date(Date.now() + dueInSeconds * 1000).toISOString();
    const res = await api().post('/schedule/').set(bearer(token)).send({ phone, scheduled_time, description }).expect(200);
    return res.body.schedule_id as string;
  };
  const row = (id: string) => page.locator(`[data-testid="schedule-row"][data-schedule-id="${id}"]`);

  it('serves the page and its assets from the service, without inline scripts or styles', async () => {
    const res = await api().get('/dashboard').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const html = res.text;
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=/);
    const assets = [...html.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    for (const asset of assets) {
      const file = await api().get(asset).expect(200);
      expect(file.headers['content-type']).toMatch(asset.endsWith('.js') ? /javascript/ : asset.endsWith('.css') ? /text\/css/ : /svg/);
    }
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('answers a missing dashboard file with the standard 404 body', async () => {
    const res = await api().get('/dashboard/assets/nope.js').expect(404);
    expect(res.body).toMatchObject({ status: 'error', error_code: 'ROUTE_001', details: { field: 'path' } });
    await api().get('/dashboard/..%2Fpackage.json').expect(404);
    await api().get('/dashboard/%2e%2e/%2e%2e/package.json').expect(404);
  });

  it('rejects a bad token on the sign-in form', async () => {
    await page.goto(`${t.url}/dashboard/?refresh=2`);
    await page.getByTestId('token-input').fill('not-a-jwt');
    await page.getByTestId('login-button').click();
    await expectText(page.getByTestId('login-error'), /Sign-in failed: Invalid token/);
    expect(await page.getByTestId('app').isHidden()).toBe(true);
  });

  it('signs in, pauses, resumes and cancels with the buttons, shows a fired call, its timeline and the stats', async () => {
    await page.getByTestId('token-input').fill(token);
    await page.getByTestId('login-button').click();
    await page.getByTestId('app').waitFor({ state: 'visible' });
    await expectText(page.getByTestId('session-user'), /Signed in as dash-user/);
    expect(await page.evaluate<string[]>('Object.values(sessionStorage)')).toContain(token);
    await page.getByTestId('upcoming-empty').waitFor();

    // Far enough ahead that it cannot fire during the test.
    const heldId = await createSchedule('+14155552671', 600, 'Dashboard hold');

    // Picked up by the auto-refresh, no reload.
    await row(heldId).waitFor();
    await expectText(row(heldId), /\+14155552671/);
    await expectText(row(heldId), /Dashboard hold/);
    await expectText(row(heldId).getByTestId('schedule-status'), /^scheduled$/);

    await row(heldId).getByTestId('pause-button').click();
    await waitFor(async () => (await scheduleStatus(heldId)) === 'paused', 20_000);
    await expectText(row(heldId).getByTestId('schedule-status'), /^paused$/);
    await expectText(page.getByTestId('action-status'), /paused/);

    await row(heldId).getByTestId('resume-button').click();
    await waitFor(async () => (await scheduleStatus(heldId)) === 'scheduled', 20_000);
    await expectText(row(heldId).getByTestId('schedule-status'), /^scheduled$/);

    // A second schedule due in a few seconds fires through the simulated provider.
    const soonId = await createSchedule('+14155550123', 4, 'Dashboard fire');

    const call = page.locator(`[data-testid="call-row"][data-schedule-id="${soonId}"]`);
    await call.waitFor({ timeout: 60_000 });
    await expectText(call.getByTestId('call-status'), /^completed$/, 60_000);
    const steps = await call.getByTestId('timeline-entry').evaluateAll((els) => els.map((el) => el.getAttribute('data-status')));
    expect(steps).toEqual(expect.arrayContaining(['initiated', 'ringing', 'in_progress', 'completed']));
    await expectText(call, /\+14155550123/);
    // A fired one-time schedule leaves the upcoming list.
    await row(soonId).waitFor({ state: 'detached', timeout: 30_000 });

    // The stats and the chart count the call on its day (the browser runs in UTC).
    await expectText(page.getByTestId('week-completed'), /[1-9]/);
    const logs = await api().get('/schedule/tracking/logs').query({ schedule_id: soonId }).set(bearer(token)).expect(200);
    const callDay = (logs.body.logs[0].timestamp as string).slice(0, 10);
    const bar = page.locator(`[data-testid="chart-bar"][data-date="${callDay}"][data-outcome="completed"]`);
    await bar.waitFor();
    expect(Number(await bar.getAttribute('data-count'))).toBeGreaterThanOrEqual(1);
    expect(await page.locator('[data-testid="chart-day"]').count()).toBe(7);

    // Campaign progress: a campaign with two contacts, not started yet.
    const campaign = await api().post('/campaigns').set(bearer(token)).send({ name: 'Dashboard renewals' }).expect(201);
    const campaignId = campaign.body.campaign.id as string;
    await api()
      .post(`/campaigns/${campaignId}/contacts`)
      .set(bearer(token))
      .set('content-type', 'application/json')
      .send(JSON.stringify([{ phone: '+14155550101', name: 'Ada' }, { phone: '+14155550102' }]))
      .expect(200);
    const campaignRow = page.locator(`[data-testid="campaign-row"][data-campaign-id="${campaignId}"]`);
    await expectText(campaignRow, /Dashboard renewals/);
    await expectText(campaignRow.getByTestId('campaign-summary'), /^0 of 2 contacts done \(0%\)$/);
    await expectText(campaignRow, /pending\s*2/);
    expect(await campaignRow.getByTestId('campaign-progress').getAttribute('max')).toBe('2');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    page.once('dialog', (dialog) => void dialog.accept());
    await row(heldId).getByTestId('cancel-button').click();
    await waitFor(async () => (await scheduleStatus(heldId)) === 'cancelled', 20_000);
    await row(heldId).waitFor({ state: 'detached' });

    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('signs out when the API rejects the stored token', async () => {
    const expired = tokenFor('dash-user', { expiresIn: -10 });
    await page.evaluate(`for (const key of Object.keys(sessionStorage)) sessionStorage.setItem(key, ${JSON.stringify(expired)})`);
    await page.reload();
    await expectText(page.getByTestId('login-error'), /Signed out: Token expired/);
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
  });
});

describe('Dashboard without a built bundle', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      listen: false,
      override: (b) => b.overrideProvider(DashboardBundle).useValue(new DashboardBundle(join(tmpdir(), 'no-dashboard-here'))),
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers 503 with the standard error body and says how to build it', async () => {
    const res = await request(t.app.getHttpServer()).get('/dashboard').expect(503);
    expect(res.body).toMatchObject({ status: 'error', error_code: 'SERVICE_001', details: { issue: expect.stringContaining('npm run build:dashboard') } });
    await request(t.app.getHttpServer()).get('/dashboard/assets/index.js').expect(503);
  });
});

async function expectText(locator: ReturnType<Page['locator']>, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => pattern.test((await locator.textContent())?.trim() ?? ''), timeoutMs, 100).catch(async (error: Error) => {
    throw new Error(`${error.message}: expected ${pattern} in "${(await locator.textContent().catch(() => null))?.trim()}"`);
  });
}
