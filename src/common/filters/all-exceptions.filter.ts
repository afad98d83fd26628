import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { requestIdOf } from '../../observability/logging/request-id';
import { Clock } from '../clock/clock';
import { resolveError } from '../errors/error-body';

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  constructor(private readonly clock: Clock) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const res = http.getResponse<Response>();
    const req = http.getRequest<Request>();
    const { httpStatus, body, internal } = resolveError(exception, this.clock.now(), requestIdOf(req));
    if (internal !== undefined) {
      const stack = internal instanceof Error ? internal.stack : String(internal);
      this.logger.error(`error_id=${body.error_id} ${req.method} ${req.path}: ${stack}`);
    }
    if (res.headersSent) return;
    res.status(httpStatus).json(body);
  }
}
