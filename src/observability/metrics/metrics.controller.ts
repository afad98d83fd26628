import { Controller, Get, Header, Headers, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { Public } from '../../auth/auth.decorators';
import { MissingTokenException, InvalidTokenException } from '../../auth/auth.exceptions';
import { AppConfig } from '../../config/app-config';
import { MetricsRecorder } from './metrics-recorder';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// Prometheus text format. Not a JWT route: scrapers hold a static METRICS_TOKEN, when one is configured.
@ApiTags('operations')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsRecorder,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics (text format). Needs Authorization: Bearer <METRICS_TOKEN> when METRICS_TOKEN is set' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus exposition format', schema: { type: 'string', example: 'call_scheduler_dispatch_lag_seconds_bucket{le="0.5",provider="simulated"} 1' } })
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() res: Response): Promise<void> {
    const expected = this.config.operations.metricsToken;
    if (expected) {
      const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
      if (!match) throw new MissingTokenException();
      if (!sameSecret(match[1], expected)) throw new InvalidTokenException('Not the metrics token');
    }
    const body = await this.metrics.registry.metrics();
    res.status(200).type(this.metrics.registry.contentType).send(body);
  }
}
