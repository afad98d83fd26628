import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Level } from 'pino';
import { AppConfig } from '../../config/app-config';
import { LogLevelName } from '../../config/environment.schema';
import { LogDestination, StdoutLogDestination } from './log-destination';
import { maskSensitiveText, maskSensitiveValues, REDACTED_PATHS } from './log-redaction';
import { requestIdFor, requestIdOf } from './request-id';

const PINO_LEVEL: Record<LogLevelName, Level> = { fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };
const QUIET_PATHS = /^\/(health|metrics)(\/|$)/;

@Module({
  providers: [{ provide: LogDestination, useClass: StdoutLogDestination }],
  exports: [LogDestination],
})
class LogDestinationModule {}

// JSON lines through pino. Every line is masked on its way out (phone numbers, bearer tokens) on top of
// pino's path redaction, so a careless message cannot leak what a careful field would have hidden.
@Module({
  imports: [
    LoggerModule.forRootAsync({
      imports: [LogDestinationModule],
      inject: [AppConfig, LogDestination],
      useFactory: (config: AppConfig, destination: LogDestination) => ({
        pinoHttp: [
          {
            level: PINO_LEVEL[config.logLevel],
            base: { service: 'call-scheduler' },
            redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
            genReqId: (req: IncomingMessage) => requestIdOf(req) ?? requestIdFor(req.headers['x-request-id']),
            autoLogging: { ignore: (req: IncomingMessage) => QUIET_PATHS.test(req.url ?? '') },
            customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
              error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
            serializers: {
              req: (req: { id: unknown; method: string; url: string; headers: Record<string, unknown> }) => ({
                id: req.id,
                method: req.method,
                url: maskSensitiveText(req.url),
                headers: { 'user-agent': req.headers['user-agent'], 'content-length': req.headers['content-length'] },
              }),
              res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
            },
            formatters: { log: (object: Record<string, unknown>) => maskSensitiveValues(object) as Record<string, unknown> },
            hooks: {
              logMethod(args: unknown[], method: (...a: unknown[]) => void) {
                method.apply(this, args.map((a) => (typeof a === 'string' ? maskSensitiveText(a) : a)));
              },
            },
          },
          destination.stream,
        ],
      }),
    }),
  ],
})
export class LoggingModule {}
