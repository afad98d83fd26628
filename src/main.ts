import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createApp } from './app.factory';
import { AppConfigValues } from './config/app-config';
import { ConfigValidationError, loadConfig } from './config/load-config';
import { describeEmbeddedDatabase, EmbeddedDatabase, launchEmbeddedDatabase, withDatabaseName } from './database/embedded/embedded-database.launcher';
import { ShutdownDrain } from './health/shutdown-drain.service';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Bootstrap');
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: AppConfigValues;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }

  let embedded: EmbeddedDatabase | undefined;
  if (!config.mongodbUri) {
    const projectRoot = resolve(__dirname, '..');
    embedded = await launchEmbeddedDatabase({
      dataDir: config.embeddedDb.dir,
      persistent: true,
      engine: config.embeddedDb.engine as 'auto',
      toolsDir: join(projectRoot, '.tools'),
      projectRoot,
      allowInstall: true,
      ferretdbPostgresqlUrl: config.embeddedDb.ferretdbPostgresqlUrl,
      log: (m) => logger.log(m),
    });
    logger.log(`${describeEmbeddedDatabase(embedded)}. Data in ${embedded.dataDir}; set MONGODB_URI to use your own MongoDB.`);
    config = { ...config, mongodbUri: withDatabaseName(embedded.uri, 'call_scheduler') };
  }

  const app = await createApp(config);
  let closing = false;
  // SIGTERM, or a port it cannot listen on: the same drain either way. createApp has started the job queue and
  // the sweeper by then, so an exit without it would leave this process's job locks held for their lifetime.
  const shutdown = async (reason: string, exitCode: number) => {
    if (closing) return;
    closing = true;
    logger.log(`${reason}: draining`);
    // Readiness turns 503 at once; dispatches and HTTP work, then the job queue, each get
    // SCHEDULER_SHUTDOWN_TIMEOUT_MS, and webhook deliveries in flight their timeout. If something still
    // hangs after all of them, the process exits anyway rather than outliving its grace period.
    const timeoutMs = config.scheduler.shutdownTimeoutMs;
    const deadline = setTimeout(() => {
      logger.error('shutdown did not finish in time: exiting');
      process.exit(1);
    }, Math.max(3 * timeoutMs + 5000, 2 * timeoutMs + config.notifications.webhookTimeoutMs + 15_000));
    deadline.unref();
    await app
      .get(ShutdownDrain)
      .drain()
      .catch((error: unknown) => logger.warn(`drain failed, closing anyway: ${error instanceof Error ? error.message : String(error)}`));
    await app.close();
    await embedded?.stop();
    process.exit(exitCode);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM received', 0));
  process.once('SIGINT', () => void shutdown('SIGINT received', 0));
  try {
    await app.listen(config.port);
  } catch (error) {
    logger.error(`cannot listen on port ${config.port}: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown('listen failed', 1);
    return;
  }
  logger.log(`Call Scheduler listening on port ${config.port} (provider: ${config.callProvider})`);
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
