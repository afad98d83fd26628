import { DynamicModule, ForwardReference, InjectionToken, Provider, Type } from '@nestjs/common';
import { Test, TestingModule, TestingModuleBuilder } from '@nestjs/testing';
import { logLevelsFrom } from '../../src/app.factory';
import { Principal } from '../../src/auth/principal';
import { TokenVerifierService } from '../../src/auth/token-verifier.service';
import { Clock } from '../../src/common/clock/clock';
import { CommonModule } from '../../src/common/common.module';
import { createValidationPipe } from '../../src/common/validation/validation.pipe';
import { AppConfigValues } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { DatabaseModule } from '../../src/database/database.module';
import { CreateScheduleDto } from '../../src/schedule/dto/create-schedule.dto';
import { activeView, eventView, scheduleView } from '../../src/schedule/dto/schedule.response';
import { ScheduleService } from '../../src/schedule/schedule.service';
import { Schedule } from '../../src/schedule/schedule.types';
import { createTestApp, TestApp } from './test-app';
import { testConfig } from './test-config';
import { TestClock } from './test-clock';
import { tokenFor } from './tokens';

// The medium tier (test/medium/*.medium-spec.ts): services and repositories against the real database,
// with no HTTP server and with time that moves only when the test moves it.
//
//   createMediumApp     the whole application (AppModule) without listening; a test reaches services
//                       through t.get(...). The scheduler is off by default: no DueScheduleSweeper poll,
//                       and Agenda never starts, so no job runs by itself. A test drives the work directly
//                       (OccurrenceDispatchService.dispatchDue, a job's handle(), ...) after moving t.clock.
//   createMediumModule  a narrower module for repository tests: configuration, the Clock, the database
//                       connection and only what the test imports or provides.
//
// The database is always the real one (one fresh database per app or module, as in e2e). Only outside
// I/O that has its own injectable class (Clock, CallDispatcher, the provider clients) is substituted.

export interface MediumAppOptions {
  env?: Record<string, string | undefined>;
  // A configuration built by the test (testConfig), instead of env: apps that stand for several
  // instances share one, and with it one database. It decides SCHEDULER_ENABLED itself; SCHEDULER_ENABLED
  // true runs the sweeper and the Agenda job queue on their wall-clock polls, as a deployed instance
  // does, which only a test about that timing itself wants (pacing across instances, test/utils/pacing-run).
  config?: AppConfigValues;
  // Shared between apps that stand for several instances of one cluster.
  clock?: TestClock;
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
}

export interface MediumApp extends TestApp {
  clock: TestClock;
}

export async function createMediumApp(options: MediumAppOptions = {}): Promise<MediumApp> {
  const clock = options.clock ?? new TestClock();
  const config = options.config ?? testConfig({ SCHEDULER_ENABLED: 'false', ...options.env });
  const t = await createTestApp({
    config,
    listen: false,
    override: (builder) => {
      const withClock = builder.overrideProvider(Clock).useValue(clock);
      return options.override ? options.override(withClock) : withClock;
    },
  });
  return { ...t, clock };
}

export interface MediumModuleOptions {
  env?: Record<string, string | undefined>;
  imports?: Array<Type<unknown> | DynamicModule | Promise<DynamicModule> | ForwardReference>;
  providers?: Provider[];
  clock?: TestClock;
}

export interface MediumModule {
  moduleRef: TestingModule;
  config: AppConfigValues;
  clock: TestClock;
  get<T>(token: InjectionToken): T;
  close(): Promise<void>;
}

export async function createMediumModule(options: MediumModuleOptions = {}): Promise<MediumModule> {
  const clock = options.clock ?? new TestClock();
  const config = testConfig(options.env);
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), CommonModule, DatabaseModule, ...(options.imports ?? [])],
    providers: options.providers ?? [],
  })
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  moduleRef.useLogger(logLevelsFrom(config.logLevel));
  await moduleRef.init();
  return {
    moduleRef,
    config,
    clock,
    get: <T>(token: InjectionToken) => moduleRef.get<T>(token, { strict: false }),
    close: () => moduleRef.close(),
  };
}

// The principal a request carrying tokenFor(sub, options) is served as: the same verifier reads it.
export function principalFor(t: Pick<TestApp, 'get'>, sub: string, options: Parameters<typeof tokenFor>[1] = {}): Principal {
  return t.get<TokenVerifierService>(TokenVerifierService).verify(tokenFor(sub, options));
}

// POST /schedule/ without HTTP: the body goes through the same validation pipe, then to ScheduleService.
export async function createSchedule(t: Pick<TestApp, 'get'>, principal: Principal, body: Record<string, unknown>, idempotencyKey?: string): Promise<Schedule> {
  const dto = (await createValidationPipe().transform(body, { type: 'body', metatype: CreateScheduleDto, data: '' })) as CreateScheduleDto;
  return (await t.get<ScheduleService>(ScheduleService).create(principal, dto, idempotencyKey)).schedule;
}

// What GET /schedule/:id answers as `schedule` (JSON, as a client reads it).
export async function scheduleDetails(t: Pick<TestApp, 'get'>, principal: Principal, id: string) {
  const { schedule, events } = await t.get<ScheduleService>(ScheduleService).get(principal, id);
  return asJson({ ...scheduleView(schedule), events: events.map(eventView) });
}

// What GET /schedule/active answers (first page, the default page size).
export async function activeSchedules(t: Pick<TestApp, 'get'>, principal: Principal, limit = 50, offset = 0) {
  const { items, total } = await t.get<ScheduleService>(ScheduleService).listActive(principal, limit, offset);
  return asJson({ status: 'success', total, limit, offset, active_schedules: items.map(activeView) });
}

function asJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
