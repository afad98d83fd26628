import { DomainEventName } from './domain-events';

// One persisted event: the SSE history and the body every webhook delivery of it carries.
export interface StoredEvent {
  id: string;
  tenant_id: string;
  type: DomainEventName;
  created_at: Date;
  data: Record<string, unknown>;
}

export interface EventEnvelope {
  id: string;
  type: DomainEventName;
  created_at: string;
  data: Record<string, unknown>;
}

export function envelopeOf(event: StoredEvent): EventEnvelope {
  return { id: event.id, type: event.type, created_at: event.created_at.toISOString(), data: event.data };
}

export interface WebhookSubscription {
  id: string;
  tenant_id: string;
  url: string;
  events: string[];
  secret: string;
  active: boolean;
  description: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export const DELIVERY_STATUSES = ['pending', 'retrying', 'delivered', 'dead', 'cancelled'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
export const OPEN_DELIVERY_STATUSES: DeliveryStatus[] = ['pending', 'retrying'];

export interface DeliveryAttempt {
  number: number;
  at: Date;
  url: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  response_excerpt: string | null;
}

export interface WebhookDelivery {
  id: string;
  tenant_id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  // The exact bytes that are signed and sent on every attempt.
  payload: string;
  status: DeliveryStatus;
  attempt_count: number;
  attempts: DeliveryAttempt[];
  next_attempt_at: Date | null;
  lease_until: Date;
  job_id: string | null;
  redelivery_of: string | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  updated_at: Date;
}
