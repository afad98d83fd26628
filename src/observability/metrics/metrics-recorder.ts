import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

// One registry per application instance: tests build many apps in one process, and prom-client's global
// registry would refuse the second registration of a metric name.
@Injectable()
export class MetricsRecorder {
  readonly registry = new Registry();

  readonly dispatchLag = new Histogram({
    name: 'call_scheduler_dispatch_lag_seconds',
    help: 'Time from an occurrence being due to its provider request being answered',
    labelNames: ['provider'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
    registers: [this.registry],
  });

  readonly callsDispatched = new Counter({
    name: 'call_scheduler_calls_dispatched_total',
    help: 'Calls a provider accepted',
    labelNames: ['provider'],
    registers: [this.registry],
  });

  readonly callsFinal = new Counter({
    name: 'call_scheduler_calls_final_total',
    help: 'Calls that reached a final status, by provider and status',
    labelNames: ['provider', 'status'],
    registers: [this.registry],
  });

  readonly providerErrors = new Counter({
    name: 'call_scheduler_provider_errors_total',
    help: 'Provider refusals, failed calls with an error code and dials with an unknown outcome',
    labelNames: ['provider', 'code'],
    registers: [this.registry],
  });

  readonly webhookSignatureFailures = new Counter({
    name: 'call_scheduler_webhook_signature_failures_total',
    help: 'Status callbacks rejected for a missing or wrong signature',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  readonly notificationDeliveries = new Counter({
    name: 'call_scheduler_notification_deliveries_total',
    help: 'Outbound webhook delivery attempts by result (delivered, retrying, dead)',
    labelNames: ['result'],
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'call_scheduler_rate_limited_total',
    help: 'API requests refused with 429',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  webhookSignatureFailed(reason: string): void {
    this.webhookSignatureFailures.inc({ reason });
  }

  notificationDelivery(result: string): void {
    this.notificationDeliveries.inc({ result });
  }

  // Gauges whose value is read when Prometheus scrapes, not kept up to date on every change.
  gaugeAtScrape(name: string, help: string, labelNames: string[], read: () => Promise<Array<{ labels?: Record<string, string>; value: number }>>): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const { labels, value } of await read()) {
          if (labels) this.set(labels, value);
          else this.set(value);
        }
      },
    });
  }
}
