import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthenticatedRequest } from '../auth/auth.decorators';
import { MissingTokenException } from '../auth/auth.exceptions';
import { TokenVerifierService } from '../auth/token-verifier.service';
import { AppConfig } from '../config/app-config';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

// The /tasks routes take a JWT like every route, or, when TASKS_API_TOKEN is configured, that token:
// seed 000's clients hold one shared secret, not per-user tokens. Their tasks belong to TASKS_API_TENANT_ID.
@Injectable()
export class TasksAuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifierService,
    private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new MissingTokenException();
    const { token, tenantId } = this.config.tasksApi;
    // Compared as digests: equal lengths, so the comparison takes the same time whatever was sent.
    if (token && tenantId && timingSafeEqual(digest(match[1]), digest(token))) {
      req.principal = { sub: 'tasks-api-token', tenantId, roles: [], isAdmin: false };
      return true;
    }
    req.principal = this.verifier.verify(match[1]);
    return true;
  }
}
