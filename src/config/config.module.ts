import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig, AppConfigValues } from './app-config';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(values: AppConfigValues): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: AppConfig, useValue: Object.freeze(values) }],
      exports: [AppConfig],
    };
  }
}
