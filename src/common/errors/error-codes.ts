// The catalogue of stable error codes. Clients branch on these; never renumber or reuse one.
export const ERROR_CODES = {
  VALIDATION_001: { status: 400, message: 'Request validation failed' },
  VALIDATION_002: { status: 400, message: 'A required field is missing' },
  VALIDATION_003: { status: 400, message: 'Unknown field' },
  VALIDATION_004: { status: 400, message: 'Malformed request body' },
  VALIDATION_005: { status: 413, message: 'Request body too large' },
  VALIDATION_006: { status: 400, message: 'Invalid identifier' },

  AUTH_001: { status: 401, message: 'Missing bearer token' },
  AUTH_002: { status: 401, message: 'Invalid token' },
  AUTH_003: { status: 401, message: 'Token expired' },
  AUTH_004: { status: 401, message: 'Token has no expiry' },
  AUTH_005: { status: 403, message: 'Insufficient role' },
  AUTH_006: { status: 403, message: 'Agent instance not allowed for this token' },

  SCHEDULE_001: { status: 400, message: 'Invalid phone number' },
  SCHEDULE_002: { status: 400, message: 'Unknown timezone' },
  SCHEDULE_003: { status: 400, message: 'Invalid scheduled time' },
  SCHEDULE_004: { status: 400, message: 'Scheduled time is in the past' },
  SCHEDULE_005: { status: 400, message: 'Invalid cron expression' },
  SCHEDULE_006: { status: 400, message: 'End date is before the start' },
  SCHEDULE_007: { status: 400, message: 'Invalid repeat configuration' },
  SCHEDULE_008: { status: 400, message: 'Metadata too large' },
  SCHEDULE_009: { status: 404, message: 'Schedule not found' },
  SCHEDULE_010: { status: 409, message: 'Illegal schedule state change' },
  SCHEDULE_011: { status: 409, message: 'Idempotency key reused with a different request' },
  SCHEDULE_012: { status: 409, message: 'Schedule was modified concurrently' },
  SCHEDULE_013: { status: 400, message: 'Recurrence never produces an occurrence' },
  SCHEDULE_014: { status: 400, message: 'Invalid provider options' },
  SCHEDULE_015: { status: 400, message: 'Invalid retry policy' },
  SCHEDULE_016: { status: 400, message: 'Invalid bulk request' },
  SCHEDULE_017: { status: 400, message: 'Calling hours cannot be waived for this schedule' },

  CALLING_RULES_001: { status: 400, message: 'Invalid calling window' },

  DNC_001: { status: 400, message: 'Invalid phone number' },
  DNC_002: { status: 404, message: 'Do-not-call entry not found' },
  DNC_003: { status: 409, message: 'Number is already on the do-not-call list' },
  DNC_004: { status: 400, message: 'Invalid do-not-call import' },

  CAMPAIGN_001: { status: 404, message: 'Campaign not found' },
  CAMPAIGN_002: { status: 409, message: 'Illegal campaign state change' },
  CAMPAIGN_003: { status: 400, message: 'Invalid campaign settings' },
  CAMPAIGN_004: { status: 400, message: 'Invalid contact import' },
  CAMPAIGN_005: { status: 413, message: 'Contact import too large' },
  CAMPAIGN_006: { status: 400, message: 'Invalid daily batch request' },

  SCHEDULER_001: { status: 404, message: 'Scheduled call not found' },
  SCHEDULER_002: { status: 404, message: 'Contact not found' },
  SCHEDULER_003: { status: 409, message: 'Contact cannot be scheduled' },
  SCHEDULER_004: { status: 409, message: 'Scheduled call cannot be cancelled' },

  WEBHOOK_001: { status: 403, message: 'Invalid webhook signature' },
  WEBHOOK_002: { status: 404, message: 'Unknown call' },
  WEBHOOK_003: { status: 503, message: 'An earlier delivery of this callback is still being applied' },

  NOTIFICATION_001: { status: 400, message: 'Invalid subscription URL' },
  NOTIFICATION_002: { status: 400, message: 'Subscription URL targets a forbidden address' },
  NOTIFICATION_003: { status: 400, message: 'Unknown event pattern' },
  NOTIFICATION_004: { status: 404, message: 'Subscription not found' },
  NOTIFICATION_005: { status: 404, message: 'Delivery not found' },
  NOTIFICATION_006: { status: 400, message: 'Invalid Last-Event-ID' },
  NOTIFICATION_007: { status: 409, message: 'Subscription is not active' },

  TRACKING_001: { status: 400, message: 'Invalid date range' },

  ROUTE_001: { status: 404, message: 'Route not found' },
  HTTP_001: { status: 405, message: 'Method not allowed' },
  RATE_001: { status: 429, message: 'Too many requests' },
  SERVICE_001: { status: 503, message: 'Service unavailable' },
  SERVICE_002: { status: 503, message: 'The query took too long' },
  INTERNAL_001: { status: 500, message: 'Internal server error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
