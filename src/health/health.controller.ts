import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { Clock } from '../common/clock/clock';
import { HealthService } from './health.service';

@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly clock: Clock,
  ) {}

  // Liveness answers from memory only: a slow database must not get the process restarted.
  @Get()
  live() {
    return { status: 'ok', timestamp: this.clock.now().toISOString() };
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) res: Response) {
    const { ready, components } = await this.health.readiness();
    const failing = Object.entries(components)
      .filter(([, c]) => c.status === 'down')
      .map(([name]) => name);
    res.status(ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return {
      status: ready ? 'ok' : 'error',
      ...(ready ? {} : { message: `Not ready: ${failing.join(', ')}`, failing }),
      components,
      timestamp: this.clock.now().toISOString(),
    };
  }
}
