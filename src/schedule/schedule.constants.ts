// One Agenda job name per kind of work; ids travel in the job data.
export const DISPATCH_JOB = 'call.dispatch';
export const RECONCILE_JOB = 'schedule.reconcile';
export const CALL_RETRY_JOB = 'call.retry';
export const RECONCILE_EVERY = '30 seconds';
export const LATEST_EVENTS_LIMIT = 20;
