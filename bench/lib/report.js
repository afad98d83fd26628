'use strict';
// The markdown table printed after a run (and put in docs/performance.md with --readme).
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { ROOT } = require('./build');

const ms = (v) => (v === null || v === undefined ? '-' : v === Infinity ? 'not done' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const num = (v) => (v === null || v === undefined ? '-' : v === Infinity ? 'not done' : String(v));
// The first four commands of a per-dial list (wire-counter.js perDial), as one cell.
const topPerDial = (list) => list.slice(0, 4).map((c) => `${c.cmd} ${c.per_dial} × ${c.mean_ms} ms`).join('; ');
const ratio = (a, b) => (a && b && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-');
const met = (ok) => (ok === null ? '' : ok ? 'met' : '**missed**');

// The table's rows: { scenario, figure, value, target, ok, medians }, where medians are the numbers the value
// shows, in order (what the comparison of two engines divides).
function rows(results) {
  const rows = [];
  let medians = [];
  const cell = (s, f) => {
    medians.push(s && s.runs ? s.median : null);
    return s && s.runs ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : '-';
  };
  const one = (v, f) => {
    medians.push(v);
    return f(v);
  };
  const add = (scenario, figure, value, target = '', ok = null) => {
    rows.push({ scenario, figure, value, target, ok, medians });
    medians = [];
  };
  const fire = results.scenarios.fire;
  if (fire) {
    for (const [mode, bySize] of Object.entries(fire.modes)) {
      for (const [n, { summary: s, runs }] of Object.entries(bySize)) {
        const label = `1 fire ${mode} N=${n}`;
        add(label, 'lag p50 / p95', `${cell(s.p50, ms)} / ${cell(s.p95, ms)}`);
        if (Number(n) === 1) add(label, 'lag p99', cell(s.p99, ms), '≤ 100 ms', s.p99.median <= 100);
        else add(label, 'lag p99', cell(s.p99, ms), Number(n) >= 10_000 ? '≤ 2 s' : '', Number(n) >= 10_000 ? s.p99.median <= 2000 : null);
        add(label, 'lag max', cell(s.max, ms));
        if (Number(n) > 1) {
          add(label, 'dispatched within cap', `${one(s.done.median, num)}/${n} (cap ${fire.cap_ms[n] / 1000} s)`);
          add(label, 'drain time', cell(s.drain_ms, ms));
          add(label, 'dispatches/s', cell(s.per_second, num), Number(n) >= 10_000 ? '≥ 1,000/s' : '', Number(n) >= 10_000 ? s.per_second.median >= 1000 : null);
        }
        if (runs.some((r) => r.duplicate_dials > 0)) add(label, 'duplicate dials', String(runs.map((r) => r.duplicate_dials)), '0', false);
      }
    }
  }
  const cluster = results.scenarios.instances;
  if (cluster) {
    for (const [n, { summary: s, runs }] of Object.entries(cluster.by_size)) {
      const label = `7 instances (${cluster.instances}) N=${n}`;
      const single = fire?.modes.twilio?.[n]?.summary;
      add(label, 'lag p50 / p99', `${cell(s.p50, ms)} / ${cell(s.p99, ms)}`);
      add(label, 'dispatched within cap', `${one(s.done.median, num)}/${n} (cap ${cluster.cap_ms[n] / 1000} s)`);
      add(label, 'dispatches/s', `${cell(s.per_second, num)}${single ? `; ${ratio(s.per_second.median, single.per_second.median)} one instance's` : ''}`);
      add(label, 'duplicate dials', String(runs.map((r) => r.duplicate_dials)), '0', runs.every((r) => r.duplicate_dials === 0));
    }
  }
  const peers = results.scenarios.peers;
  if (peers) {
    for (const [peer, bySize] of Object.entries(peers.peers)) {
      for (const [n, entry] of Object.entries(bySize)) {
        if (!entry || !entry.summary) continue;
        const s = entry.summary;
        const ours = fire?.modes.twilio?.[n]?.summary;
        add(`2 ${peer} N=${n}`, 'lag p50 / p99', `${cell(s.p50, ms)} / ${cell(s.p99, ms)}`);
        add(`2 ${peer} N=${n}`, 'dispatches/s', cell(s.per_second, num));
        if (ours) add(`2 ours ÷ ${peer} N=${n}`, 'p99 lag ratio / throughput ratio', `${ratio(ours.p99.median, s.p99.median)} / ${ratio(ours.per_second.median, s.per_second.median)}`);
      }
    }
  }
  const api = results.scenarios.api;
  if (api) {
    const p = api.post_schedule_summary;
    add(`3 POST /schedule/ (${api.post_seconds} s, ${api.connections} conn)`, 'req/s', cell(p.rps, num), '≥ 1,000/s', p.rps.median >= 1000);
    add(`3 POST /schedule/`, 'p50 / p99', `${cell(p.p50_ms, ms)} / ${cell(p.p99_ms, ms)}`, 'p99 ≤ 50 ms', p.p99_ms.median <= 50);
    const raw = api.raw_insert_one_summary;
    add(`3 raw insertOne (${api.connections} in flight)`, 'req/s; p50 / p99', `${cell(raw.rps, num)}; ${cell(raw.p50_ms, ms)} / ${cell(raw.p99_ms, ms)}`);
    add(`3 POST ÷ raw insertOne`, 'throughput ratio', ratio(p.rps.median, raw.rps.median));
    for (const [name, r] of Object.entries(api.reads)) add(`3 ${name} (${api.call_logs.toLocaleString('en')} logs, ${r.connections} conn)`, 'req/s; p50 / p99', `${cell(r.summary.rps, num)}; ${cell(r.summary.p50_ms, ms)} / ${cell(r.summary.p99_ms, ms)}`);
  }
  const scale = results.scenarios.scale;
  if (scale) {
    const label = `4 scale ${scale.schedules.toLocaleString('en')} weekly`;
    add(label, 'seeding', `${one(scale.seed_ms, ms)} (${one(scale.seed_per_second, num)}/s)`);
    const empty = fire?.modes.twilio?.[scale.fire_n]?.summary;
    const s = scale.fire.summary;
    add(`${label}, fire N=${scale.fire_n}`, 'lag p50 / p99; dispatched', `${cell(s.p50, ms)} / ${cell(s.p99, ms)}; ${one(s.done.median, num)}/${scale.fire_n} (cap ${scale.fire.runs[0]?.cap_ms / 1000} s)`);
    if (empty) {
      const within = Number.isFinite(s.p99.median) && Number.isFinite(empty.p99.median) ? s.p99.median <= empty.p99.median * 1.2 : false;
      add(`${label}, fire N=${scale.fire_n}`, 'p99 vs empty', `${ratio(s.p99.median, empty.p99.median)} (empty ${ms(empty.p99.median)})`, '≤ 1.2x', within);
      add(`${label}, fire N=${scale.fire_n}`, 'dispatches/s vs empty', `${cell(s.per_second, num)} vs ${one(empty.per_second.median, num)}`);
    }
    if (scale.fire.by_filter) add(`${label}, fire N=${scale.fire_n}`, 'top commands per dial (a run of its own)', topPerDial(scale.fire.by_filter));
    add(label, 'service RSS', `${one(scale.rss_mb, num)} MB (empty ${one(scale.rss_mb_empty, num)} MB${scale.rss_peak_mb != null ? `; peak ${num(scale.rss_peak_mb)} MB` : ''})`, '≤ 300 MB', scale.rss_mb <= 300);
    add(label, `DB CPU idle (${scale.idle_loaded.seconds} s)`, `${one(scale.idle_loaded.db_cpu_percent, num)}% (empty ${one(scale.idle_empty.db_cpu_percent, num)}%); service ${one(scale.idle_loaded.service_cpu_percent, num)}%`, 'not busy polling', scale.idle_loaded.db_cpu_percent === null ? null : scale.idle_loaded.db_cpu_percent < 10);
    const idleCmds = (idle) => (idle.commands ?? []).slice(0, 2).map((c) => `${c.cmd} ${c.per_second}/s × ${c.mean_ms} ms`).join('; ');
    add(label, 'DB commands while idle', idleCmds(scale.idle_loaded) || '-');
    for (const [name, r] of Object.entries(scale.api)) add(`${label}, ${name}`, 'req/s; p50 / p99', `${cell(r.summary.rps, num)}; ${cell(r.summary.p50_ms, ms)} / ${cell(r.summary.p99_ms, ms)}`);
    add('4 scale 1,000,000', '', scale.million.reason);
  }
  const pacing = results.scenarios.pacing;
  if (pacing) {
    for (const [cps, r] of Object.entries(pacing)) {
      const s = r.summary;
      const label = `5 pacing ${cps}/s, ${r.calls} calls`;
      add(label, 'busiest 1 s window', cell(s.busiest_window, num), `≤ ${cps}`, s.busiest_window.max <= Number(cps));
      add(label, 'mean rate', `${cell(s.mean_rate, num)}/s = ${one(s.mean_rate_percent.median, num)}%`, '≥ 95%', s.mean_rate_percent.median >= 95);
      if (s.tightest_span_ms?.runs) add(label, `tightest span of ${Number(cps) + 1} requests`, cell(s.tightest_span_ms, ms), '≥ 1000 ms', s.tightest_span_ms.min >= 1000);
      add(label, 'last call after due', `${cell(s.last_call_lag_ms, ms)}; dialed ${one(s.done.median, num)}/${r.calls}`);
    }
  }
  const webhook = results.scenarios.webhook;
  if (webhook) {
    add(`6 webhook (${webhook.calls} calls × 4, ${webhook.concurrency} in flight)`, 'req/s; p50 / p99', `${cell(webhook.summary.rps, num)}; ${cell(webhook.summary.p50_ms, ms)} / ${cell(webhook.summary.p99_ms, ms)}`);
  }
  const prof = results.scenarios.profile;
  if (prof) {
    const label = `profile: burst N=${prof.n}, twilio`;
    add(label, 'DB commands per dial (round-trip time)', `${one(prof.db_commands_per_dial, num)} (${one(prof.db_round_trip_ms_per_dial, ms)})`);
    add(label, 'top commands per dial', topPerDial(prof.commands));
    add(label, 'CPU during burst', `database ${one(prof.db_cpu_percent, num)}%, service ${one(prof.service_cpu_percent, num)}% (100% = one core)`);
    if (prof.service_cpu_ms_per_dial !== undefined) add(label, 'service CPU per dial', `${one(prof.service_cpu_ms_per_dial, ms)} (under --cpu-prof)`);
  }
  for (const f of results.failures ?? []) add(`${f.scenario} (failed)`, '', f.error.slice(0, 200));
  return rows;
}

function table(results) {
  const m = results.machine;
  // FerretDB's process is what the CPU figures read; on PostgreSQL the storage work happens in PostgreSQL's.
  const cpuNote = results.database.handler === 'postgresql' && (results.scenarios.scale || results.scenarios.profile) ? ' Database CPU is FerretDB\'s process only, not PostgreSQL\'s.' : '';
  const head = `Run ${results.started_at} (${results.plan}), commit ${results.git.commit}${results.git.dirty ? ' + local changes' : ''}; ${m.cpus} cores, ${m.memory_gb} GB, Node ${m.node}, ${results.database.version}; load ${m.loadavg_start.join(' ')} → ${m.loadavg_end?.join(' ') ?? 'not recorded (run interrupted)'}. Median of ${results.runs} runs (min–max).${cpuNote}`;
  const body = rows(results).map((r) => `| ${r.scenario} | ${r.figure} | ${r.value} | ${r.target} | ${met(r.ok)} |`);
  return [head, '', '| Scenario | Figure | Median (min–max) | Target | |', '| --- | --- | --- | --- | --- |', ...body].join('\n');
}

// Two runs of the same scenarios on two engines, figure by figure: each median of `a` divided by the same
// median of `b` (for a figure that shows several, the ratios in the same order).
function comparison(a, b, nameA, nameB) {
  const byKey = new Map(rows(b).map((r) => [`${r.scenario} | ${r.figure}`, r]));
  const lines = [];
  for (const ra of rows(a)) {
    const rb = byKey.get(`${ra.scenario} | ${ra.figure}`);
    if (!rb || ra.medians.length === 0 || ra.medians.length !== rb.medians.length) continue;
    const ratios = ra.medians.map((v, i) => ratio(v, rb.medians[i]));
    if (ratios.every((x) => x === '-')) continue;
    lines.push(`| ${ra.scenario} | ${ra.figure} | ${ra.value} | ${rb.value} | ${ratios.join(' / ')} |`);
  }
  return [`${nameA} ÷ ${nameB}, median by median (${a.database.version} vs ${b.database.version}):`, '', `| Scenario | Figure | ${nameA} | ${nameB} | ${nameA} ÷ ${nameB} |`, '| --- | --- | --- | --- | --- |', ...lines].join('\n');
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

function updateReadme(markdown, command) {
  const path = join(ROOT, 'docs', 'performance.md');
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/performance.md has no ${START} … ${END} block`);
  writeFileSync(path, `${text.slice(0, a + START.length)}\nProduced by \`${command}\`:\n\n${markdown}\n${text.slice(b)}`);
}

module.exports = { comparison, table, updateReadme };
