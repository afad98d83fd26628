import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { type CallChangedEvent, isFinalCallEvent } from '../../notification/domain-events';
import { CallLogRepository } from '../../tracking/call-log.repository';
import { MetricsRecorder } from './metrics-recorder';

const REMEMBERED_CALLS = 10_000;

// Call metrics from the domain events the dispatcher and the status webhook already publish. A final
// status event does not name the provider: it is remembered from the dispatch, or read from the call log
// when another instance dispatched the call.
@Injectable()
export class CallMetricsListener {
  private readonly providers = new Map<string, string>();

  constructor(
    private readonly metrics: MetricsRecorder,
    private readonly callLogs: CallLogRepository,
  ) {}

  @OnEvent('call.*', { async: true, promisify: true, suppressErrors: true })
  async onCallChanged(event: CallChangedEvent): Promise<void> {
    if (event.type === 'call.dispatched') {
      const provider = String(event.data.provider ?? 'unknown');
      this.remember(event.call_log_id, provider);
      this.metrics.callsDispatched.inc({ provider });
      const dueAt = typeof event.data.occurrence_at === 'string' ? Date.parse(event.data.occurrence_at) : NaN;
      const placedAt = Date.parse(event.occurred_at);
      if (Number.isFinite(dueAt) && Number.isFinite(placedAt)) this.metrics.dispatchLag.observe({ provider }, Math.max(0, placedAt - dueAt) / 1000);
      return;
    }
    if (event.type === 'call.unknown') {
      this.metrics.providerErrors.inc({ provider: await this.providerOf(event.call_log_id), code: 'unknown_outcome' });
      return;
    }
    if (!isFinalCallEvent(event.type)) return;
    const provider = await this.providerOf(event.call_log_id);
    this.providers.delete(event.call_log_id);
    const status = event.type.slice('call.'.length);
    const code = event.data.error_code;
    // A refused dial has no call id; its failure is a provider error whether or not it carries a code.
    if (code !== null && code !== undefined && code !== '') this.metrics.providerErrors.inc({ provider, code: String(code) });
    else if (event.type === 'call.failed' && !event.call_id) this.metrics.providerErrors.inc({ provider, code: 'rejected' });
    this.metrics.callsFinal.inc({ provider, status });
  }

  private remember(callLogId: string, provider: string): void {
    if (!callLogId) return;
    if (this.providers.size >= REMEMBERED_CALLS) this.providers.delete(this.providers.keys().next().value as string);
    this.providers.set(callLogId, provider);
  }

  private async providerOf(callLogId: string): Promise<string> {
    const known = this.providers.get(callLogId);
    if (known) return known;
    if (!callLogId) return 'unknown';
    const log = await this.callLogs.findById(callLogId).catch(() => null);
    return (log as { provider?: string | null } | null)?.provider ?? 'unknown';
  }
}
