import { INestApplication } from '@nestjs/common';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import { NestExpressApplication } from '@nestjs/platform-express';
import { InjectionToken } from '@nestjs/common';
import { AppModule } from '../../src/app.module';
import { configureApp, logLevelsFrom } from '../../src/app.factory';
import { AppConfigValues } from '../../src/config/app-config';
import { testConfig } from './test-config';

export interface TestAppOptions {
  env?: Record<string, string | undefined>;
  config?: AppConfigValues;
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  listen?: boolean;
}

export interface TestApp {
  app: INestApplication;
  config: AppConfigValues;
  url: string;
  get<T>(token: InjectionToken): T;
  close(): Promise<void>;
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = options.config ?? testConfig(options.env);
  let builder = Test.createTestingModule({ imports: [AppModule.forRoot(config)] });
  if (options.override) builder = options.override(builder);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: logLevelsFrom(config.logLevel) });
  configureApp(app);
  await app.init();
  let url = '';
  if (options.listen !== false) {
    await app.listen(config.port === 3000 ? 0 : config.port, '127.0.0.1');
    url = await app.getUrl();
    url = url.replace('[::1]', '127.0.0.1');
  }
  return {
    app,
    config,
    url,
    get: <T>(token: InjectionToken) => app.get<T>(token, { strict: false }),
    close: () => app.close(),
  };
}
