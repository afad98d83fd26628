import { INestApplication, Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createRequire } from 'node:module';
import { AdminRoleRequiredException, MissingTokenException } from '../auth/auth.exceptions';
import { TokenVerifierService } from '../auth/token-verifier.service';
import { Clock } from '../common/clock/clock';
import { resolveError } from '../common/errors/error-body';
import { AppConfig } from '../config/app-config';
import { JobQueueService } from '../jobs/job-queue.service';
import { requestIdOf } from '../observability/logging/request-id';
import { ADMIN_JOBS_PATH, ADMIN_SESSION_COOKIE, AdminSessionSigner, cookieValue } from './admin-session';

type AgendashModule = { createExpressMiddleware(agenda: unknown): RequestHandler };

// Agendash is an ES module; Node's own require loads it (require(esm), Node >= 20.19) also under jest.
function loadAgendash(): AgendashModule {
  return createRequire(__filename)('agendash') as AgendashModule;
}

// Agendash is plain Express middleware, so it is mounted on the HTTP adapter behind its own admin check:
// an admin bearer token, or the session cookie from POST /admin/session.
export function mountAdminJobs(app: INestApplication): void {
  const verifier = app.get(TokenVerifierService, { strict: false });
  const clock = app.get(Clock, { strict: false });
  const config = app.get(AppConfig, { strict: false });
  const jobs = app.get(JobQueueService, { strict: false });
  const signer = new AdminSessionSigner(config.jwt.secret);
  const logger = new Logger('AdminJobs');

  const fail = (req: Request, res: Response, error: unknown) => {
    const { httpStatus, body } = resolveError(error, clock.now(), requestIdOf(req));
    res.status(httpStatus).json(body);
  };

  const requireAdmin = (req: Request, res: Response, next: NextFunction) => {
    try {
      const header = req.headers.authorization;
      const bearer = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
      if (bearer) {
        if (!verifier.verify(bearer).isAdmin) throw new AdminRoleRequiredException();
        return next();
      }
      if (signer.verify(cookieValue(req.headers.cookie, ADMIN_SESSION_COOKIE), clock.now())) return next();
      throw new MissingTokenException();
    } catch (error) {
      fail(req, res, error);
    }
  };

  let dashboard: RequestHandler | undefined;
  const agendash: RequestHandler = (req, res, next) => {
    try {
      dashboard ??= loadAgendash().createExpressMiddleware(jobs.agendaForAdminView());
    } catch (error) {
      logger.error(`Agendash could not be loaded: ${error instanceof Error ? error.message : String(error)}`);
      return fail(req, res, error);
    }
    dashboard(req, res, next);
  };

  app.use(ADMIN_JOBS_PATH, requireAdmin, agendash);
}
