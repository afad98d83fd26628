import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { Clock } from './common/clock/clock';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { createValidationPipe } from './common/validation/validation.pipe';
import { AppConfigValues } from './config/app-config';
import { LogLevelName } from './config/environment.schema';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export function logLevelsFrom(level: LogLevelName): LogLevel[] {
  return LEVELS.slice(0, LEVELS.indexOf(level) + 1);
}

export interface CreateAppOptions {
  overrides?: (module: typeof AppModule) => void;
}

export function configureApp(app: NestExpressApplication): void {
  app.disable('x-powered-by');
  // Plain key=value query strings only: "phone[$ne]=" stays a string instead of becoming an object.
  app.set('query parser', 'simple');
  app.useBodyParser('json', { limit: '256kb' });
  app.useBodyParser('urlencoded', { extended: false, limit: '64kb' });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter(app.get(Clock)));
}

export async function createApp(config: AppConfigValues): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: logLevelsFrom(config.logLevel),
    bodyParser: false,
  });
  configureApp(app);
  return app;
}
