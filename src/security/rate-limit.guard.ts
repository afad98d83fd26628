import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerOptions, InjectThrottlerStorage, ThrottlerGuard, ThrottlerModuleOptions, ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerLimitDetail } from '@nestjs/throttler/dist/throttler.guard.interface';
import type { AuthenticatedRequest } from '../auth/auth.decorators';
import { TokenVerifierService } from '../auth/token-verifier.service';
import { AppConfig } from '../config/app-config';
import { MetricsRecorder } from '../observability/metrics/metrics-recorder';

// Signed provider callbacks, probes and scrapes are never limited: refusing them loses call outcomes or
// makes a healthy instance look down.
const EXEMPT = /^\/(webhook|health|metrics)(\/|$)/;

// One budget per token (its sub) across every route, or per client IP without a valid token.
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly verifier: TokenVerifierService,
    private readonly config: AppConfig,
    private readonly metrics: MetricsRecorder,
  ) {
    super(options, storage, reflector);
  }

  protected async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (this.config.operations.rateLimitPerMinute <= 0 || context.getType() !== 'http') return true;
    return EXEMPT.test(context.switchToHttp().getRequest<AuthenticatedRequest>().path);
  }

  protected async getTracker(req: AuthenticatedRequest): Promise<string> {
    if (req.principal) return `sub:${req.principal.sub}`;
    const header = req.headers.authorization;
    const token = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    if (token) {
      try {
        return `sub:${this.verifier.verify(token).sub}`;
      } catch {
        // An invalid token is limited by address like an anonymous caller.
      }
    }
    return `ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
  }

  protected generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    this.metrics.rateLimited.inc();
    return super.throwThrottlingException(context, detail);
  }
}
