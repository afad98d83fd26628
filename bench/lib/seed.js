'use strict';
// Seeds documents straight into the database, shaped exactly like the service's own: the templates are
// a schedule created through the API and read back.
const { randomBytes } = require('node:crypto');
const { join } = require('node:path');
const { ObjectId } = require('mongodb');

const BATCH = 1000;

const busy = (error) => /database is locked|SQLITE_BUSY/.test(String(error?.message));
const onlyDuplicates = (error) => Array.isArray(error?.writeErrors) && error.writeErrors.length > 0 && error.writeErrors.every((w) => w.code === 11000);

// FerretDB on SQLite answers a write with SQLITE_BUSY when the service holds the lock too long; the batch
// is sent again, and documents that made it the first time come back as duplicates of themselves.
async function insertInBatches(collection, docs) {
  for (let i = 0; i < docs.length; i += BATCH) {
    for (let attempt = 1; ; attempt++) {
      try {
        await collection.insertMany(docs.slice(i, i + BATCH), { ordered: false });
        break;
      } catch (error) {
        if (onlyDuplicates(error)) break;
        if (!busy(error) || attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }
}

async function post(url, token, body) {
  const res = await fetch(`${url}/schedule/`, { signal: AbortSignal.timeout(120_000), method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`template create failed: ${res.status} ${await res.text()}`);
  return (await res.json()).schedule_id;
}

// Creates a one-time and a weekly schedule through the API, keeps their documents as templates and
// removes them again.
// The build's own slot and shard formulas come with the templates: a seeded schedule is stored as the
// service stores it (what its sweeper reads by, and what a burst's grouped advances read by).
async function captureTemplates(db, serviceUrl, token, buildDir) {
  const { dueSlotOf, dueShardOf } = require(join(buildDir, 'schedule', 'due-slot.js'));
  const far = new Date(Date.now() + 30 * 86_400_000);
  const oneTimeId = await post(serviceUrl, token, { phone: '+14155550100', scheduled_time: far.toISOString() });
  const weeklyId = await post(serviceUrl, token, { phone: '+14155550101', scheduled_time: far.toISOString(), repeat_config: { enabled: true, frequency: 'weekly', interval: 1 } });
  const templates = {};
  for (const [kind, id] of [['oneTime', oneTimeId], ['weekly', weeklyId]]) {
    const _id = new ObjectId(id);
    const schedule = await db.collection('call_schedules').findOne({ _id });
    if (!schedule) throw new Error(`template ${kind}: schedule missing`);
    // The benchmark measures the dispatcher, not the calling-hours rules: bench numbers are in the US
    // and runs happen at any hour.
    if ('respect_calling_hours' in schedule) schedule.respect_calling_hours = false;
    templates[kind] = { schedule, dueSlotOf, dueShardOf };
    await db.collection('call_schedules').deleteOne({ _id });
  }
  await db.collection('schedule_events').deleteMany({});
  await db.collection('idempotency_keys').deleteMany({}).catch(() => undefined);
  return templates;
}

const phoneFor = (i) => `+1415${String(5000000 + (i % 5000000)).padStart(7, '0')}`;

function clone(template, i, nextExecution, extra = {}) {
  const _id = new ObjectId();
  const now = new Date();
  const schedule = {
    ...template.schedule,
    _id,
    phone: phoneFor(i),
    scheduled_time: nextExecution ?? template.schedule.scheduled_time,
    next_execution: nextExecution,
    due_slot: template.dueSlotOf(nextExecution),
    due_shard: template.dueShardOf(_id.toHexString()),
    created_at: now,
    last_updated: now,
    ...extra,
  };
  return { schedule };
}

async function insertPairs(db, pairs) {
  await insertInBatches(db.collection('call_schedules'), pairs.map((p) => p.schedule));
}

// N one-time schedules due at T, as N creates with scheduled_time T would leave them. Inserts are fast on
// FerretDB; an updateMany that arms documents afterwards is not (about 40 ms per document), so the caller
// picks T past the seeding. Numbers start at `firstNumber`, so that each burst's dials can be told apart
// at the provider.
async function seedOneTime(db, templates, n, dueAt, firstNumber = 0) {
  const pairs = Array.from({ length: n }, (_, i) => clone(templates.oneTime, firstNumber + i, dueAt));
  await insertPairs(db, pairs);
  return pairs.map((p) => p.schedule.phone);
}

// Weekly schedules whose next runs are spread evenly over [from, from + 7 days).
async function seedWeekly(db, templates, n, from, onProgress) {
  const week = 7 * 86_400_000;
  for (let start = 0; start < n; start += 10_000) {
    const pairs = [];
    for (let i = start; i < Math.min(n, start + 10_000); i++) {
      const next = new Date(from.getTime() + Math.floor((i / n) * week));
      const repeat = { ...templates.weekly.schedule.repeat_config, anchor: next, compiled_cron: `${next.getUTCMinutes()} ${next.getUTCHours()} * * ${next.getUTCDay()}` };
      pairs.push(clone(templates.weekly, i, next, { repeat_config: repeat, timezone: 'UTC' }));
    }
    await insertPairs(db, pairs);
    onProgress?.(Math.min(n, start + 10_000));
  }
}

// Settled logs, as the read routes usually find them: the one not final is `unknown` with its outcome
// recorded, which no reconcile pass picks up again (an old in-progress call would be looked up at the
// provider, and 12,500 of them keep the database busy with the reconciler instead of the reads measured).
const STATUSES = ['completed', 'completed', 'completed', 'busy', 'no_answer', 'failed', 'unknown', 'canceled'];

// A call log as the dispatcher writes it; `final` ones carry a finished timeline.
const withoutNulls = (doc) => Object.fromEntries(Object.entries(doc).filter(([, v]) => v !== null));

// A call log as the service stores it: its top-level nulls left out (docs/decisions/0029-nulls-not-stored.md).
function callLog(i, tenant, timestamp, status = 'queued') {
  const done = status !== 'queued';
  return withoutNulls({
    _id: new ObjectId(),
    tenant_id: tenant,
    created_by: tenant,
    user_profile_id: null,
    agent_instance_id: null,
    schedule_id: null,
    occurrence_at: timestamp,
    call_id: `CA${randomBytes(16).toString('hex')}`,
    provider: 'simulated',
    status,
    call_type: 'outbound',
    phone: `+1415${String(5000000 + (i % 5000000)).padStart(7, '0')}`,
    timestamp,
    start_time: done ? timestamp : null,
    end_time: done ? new Date(timestamp.getTime() + 42_000) : null,
    duration: status === 'completed' ? 42 : null,
    notes: null,
    metadata: { bench: i },
    attempt_number: 1,
    answered_by: null,
    error_code: null,
    error_message: null,
    timeline: [{ status: 'queued', ts: timestamp, received_at: timestamp, sequence_number: null, source: 'dispatcher', provider_status: null }],
    last_updated: timestamp,
    outcome_recorded_at: done ? timestamp : null,
  });
}

const ARCHIVE_AFTER_MS = 24 * 3_600_000;

// n finished call logs over the last 30 days.
// As the service leaves them: each log counted in the hourly stats sums, one document per tenant and day
// (src/tracking/call-stats.repository.ts), written here from the same documents.
async function seedCallLogs(db, n, tenant, onProgress) {
  const now = Date.now();
  const days = new Map();
  for (let start = 0; start < n; start += 10_000) {
    const docs = [];
    const archived = [];
    for (let i = start; i < Math.min(n, start + 10_000); i++) {
      const log = callLog(i, tenant, new Date(now - Math.floor((i / n) * 30 * 86_400_000)), STATUSES[i % STATUSES.length]);
      const hour = new Date(Math.floor(log.timestamp.getTime() / 3_600_000) * 3_600_000);
      const doc = { ...log, in_stats: true, hour };
      // Where the service's archive pass leaves a settled log a day after its last update
      // (CALL_LOG_ARCHIVE_AFTER_HOURS, src/tracking/call-log.repository.ts).
      (doc.outcome_recorded_at && doc.last_updated.getTime() < now - ARCHIVE_AFTER_MS ? archived : docs).push(doc);
      const id = `${tenant}|${hour.toISOString().slice(0, 10)}`;
      let day = days.get(id);
      if (!day) days.set(id, (day = { _id: id, tenant_id: tenant, day: new Date(`${id.slice(-10)}T00:00:00Z`), hours: {}, folded_until: new Date(now), rev: 0 }));
      const hh = hour.toISOString().slice(11, 13);
      const sums = (day.hours[hh] ??= { counts: {}, total_duration: 0, completed_duration: 0, completed_with_duration: 0 });
      sums.counts[doc.status] = (sums.counts[doc.status] ?? 0) + 1;
      sums.total_duration += doc.duration ?? 0;
      if (doc.status === 'completed' && doc.duration != null) {
        sums.completed_duration += doc.duration;
        sums.completed_with_duration += 1;
      }
    }
    await insertInBatches(db.collection('call_logs'), docs);
    await insertInBatches(db.collection('call_logs_archive'), archived);
    onProgress?.(Math.min(n, start + 10_000));
  }
  // Stored as the service stores a folded day: its hourly sums as JSON text.
  await insertInBatches(db.collection('call_stats_daily'), [...days.values()].map(({ hours, ...day }) => ({ ...day, hours_json: JSON.stringify(hours), hours: {} })));
}

module.exports = { captureTemplates, seedOneTime, seedWeekly, seedCallLogs, callLog, insertInBatches };
