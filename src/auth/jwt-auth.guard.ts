import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AdminRoleRequiredException, MissingTokenException } from './auth.exceptions';
import { AuthenticatedRequest, IS_PUBLIC, REQUIRES_ADMIN } from './auth.decorators';
import { TokenVerifierService } from './token-verifier.service';

@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifierService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new MissingTokenException();
    req.principal = this.verifier.verify(match[1]);
    if (this.reflector.getAllAndOverride<boolean>(REQUIRES_ADMIN, targets) && !req.principal.isAdmin) {
      throw new AdminRoleRequiredException();
    }
    return true;
  }
}
