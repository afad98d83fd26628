// One Agenda job per running campaign; its id travels in the job data.
export const CAMPAIGN_TICK_JOB = 'campaign.tick';
