import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { mountAdminJobs } from './admin/admin-jobs.mount';
import { AppModule } from './app.module';
import { ownBodyRoutes } from './common/http/own-body-routes.middleware';
import { Clock } from './common/clock/clock';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { createValidationPipe } from './common/validation/validation.pipe';
import { AppConfig, AppConfigValues } from './config/app-config';
import { LogLevelName } from './config/environment.schema';
import { setupOpenApi } from './docs/openapi';
import { ShutdownDrain } from './health/shutdown-drain.service';
import { requestIdMiddleware } from './observability/logging/request-id';
import { applyHttpHardening } from './security/http-hardening';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export function logLevelsFrom(level: LogLevelName): LogLevel[] {
  return LEVELS.slice(0, LEVELS.indexOf(level) + 1);
}

export interface CreateAppOptions {
  overrides?: (module: typeof AppModule) => void;
}

// Shared by production (createApp) and tests (createTestApp): everything around the controllers.
export function configureApp(app: NestExpressApplication): void {
  const config = app.get(AppConfig) as AppConfigValues;
  app.useLogger(app.get(PinoNestLogger));
  app.disable('x-powered-by');
  // Plain key=value query strings only: "phone[$ne]=" stays a string instead of becoming an object.
  app.set('query parser', 'simple');
  app.use(requestIdMiddleware);
  app.use(app.get(ShutdownDrain).middleware);
  applyHttpHardening(app, config);
  app.use(ownBodyRoutes);
  app.useBodyParser('json', { limit: `${config.operations.requestBodyLimitKb}kb` });
  app.useBodyParser('urlencoded', { extended: false, limit: '64kb' });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter(app.get(Clock)));
  mountAdminJobs(app);
  setupOpenApi(app);
}

export async function createApp(config: AppConfigValues): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: logLevelsFrom(config.logLevel),
    bodyParser: false,
    bufferLogs: true,
  });
  configureApp(app);
  return app;
}
