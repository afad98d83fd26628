// One Agenda job per running campaign; its id travels in the job data.
export const CAMPAIGN_TICK_JOB = 'campaign.tick';
// A cancelled campaign's tick, armed before the cancel, checks that every undialed attempt was withdrawn.
export const WITHDRAWAL_RECHECK_MS = 10_000;
