import { Global, Module, OnModuleInit } from '@nestjs/common';
import { CallPacer } from '../../calls/pacing/call-pacer.service';
import { CallsModule } from '../../calls/calls.module';
import { Clock } from '../../common/clock/clock';
import { TrackingModule } from '../../tracking/tracking.module';
import { CallMetricsListener } from './call-metrics.listener';
import { MetricsController } from './metrics.controller';
import { MetricsRecorder } from './metrics-recorder';
import { ScheduleGaugeRepository } from './schedule-gauge.repository';

@Global()
@Module({
  imports: [CallsModule, TrackingModule],
  controllers: [MetricsController],
  providers: [MetricsRecorder, CallMetricsListener, ScheduleGaugeRepository],
  exports: [MetricsRecorder],
})
export class MetricsModule implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsRecorder,
    private readonly schedules: ScheduleGaugeRepository,
    private readonly pacer: CallPacer,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.metrics.gaugeAtScrape('call_scheduler_calls_waiting_for_pacing', 'Due calls this instance holds until a pacing slot frees up', [], async () => [
      { value: this.pacer.waiting() },
    ]);
    this.metrics.gaugeAtScrape('call_scheduler_schedules_overdue', 'Scheduled schedules whose next execution has passed but which have not been dispatched yet', [], async () => [
      { value: await this.schedules.countOverdue(this.clock.now()) },
    ]);
    this.metrics.gaugeAtScrape('call_scheduler_schedules_active', 'Live schedules (scheduled, paused, pending, running) by status', ['status'], async () =>
      (await this.schedules.countActiveByStatus()).map((r) => ({ labels: { status: r.status }, value: r.count })),
    );
  }
}
