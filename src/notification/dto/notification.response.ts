import { maxAttempts } from '../retry-backoff';
import { WebhookDelivery, WebhookSubscription } from '../notification.types';

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

// The secret never appears here: it is shown once, in the creation response.
export function subscriptionView(s: WebhookSubscription) {
  return {
    id: s.id,
    tenant_id: s.tenant_id,
    url: s.url,
    events: s.events,
    active: s.active,
    description: s.description,
    secret_hint: `…${s.secret.slice(-4)}`,
    created_by: s.created_by,
    created_at: iso(s.created_at),
    updated_at: iso(s.updated_at),
  };
}

export function deliveryView(d: WebhookDelivery, retryDelaysMs: readonly number[]) {
  return {
    id: d.id,
    subscription_id: d.subscription_id,
    event_id: d.event_id,
    event_type: d.event_type,
    status: d.status,
    attempt_count: d.attempt_count,
    max_attempts: maxAttempts(retryDelaysMs),
    next_attempt_at: d.status === 'pending' || d.status === 'retrying' ? iso(d.next_attempt_at) : null,
    last_error: d.last_error,
    delivered_at: iso(d.delivered_at),
    redelivery_of: d.redelivery_of,
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
    attempts: d.attempts.map((a) => ({
      number: a.number,
      at: iso(a.at),
      url: a.url,
      status_code: a.status_code,
      error: a.error,
      duration_ms: a.duration_ms,
      response_excerpt: a.response_excerpt,
    })),
  };
}
