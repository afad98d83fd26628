// One Agenda job name per kind of work; ids travel in the job data.
export const DELIVER_JOB = 'notification.deliver';
export const MAINTENANCE_JOB = 'notification.maintenance';

export interface DeliverJobData {
  delivery_id: string;
}

// How long past an attempt's timeout a lease still blocks others (covers writing the attempt's record).
export const LEASE_SLACK_MS = 5000;
// An open delivery this late with no lease lost its timer to a crash, and a relay entry this old its
// consumers' run; maintenance re-arms the one and runs the other again.
export const STRANDED_AFTER_MS = 60_000;
