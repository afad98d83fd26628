// One Agenda job name per kind of work; ids travel in the job data.
// Retired: schedules once had one Agenda job each. Left-over jobs of this name are removed.
export const LEGACY_DISPATCH_JOB = 'call.dispatch';
export const RECONCILE_JOB = 'schedule.reconcile';
export const CALL_RETRY_JOB = 'call.retry';
export const CALL_DEFERRED_JOB = 'call.deferred';
export const RECONCILE_EVERY = '30 seconds';
export const CLAIMS_CLEANUP_JOB = 'schedule.claims-cleanup';
export const LATEST_EVENTS_LIMIT = 20;
