import { createApp } from './app';
import type { Config } from './config';
import { type DatabaseHandle, openDatabase } from './db/client';
import { isDatabaseUnavailable } from './db/errors';
import { runMigrations } from './db/migrate';
import { isEmpty, seedSampleLoans } from './db/seed';
import { SERVER_MAX_BODY_BYTES } from './http/json-body';
import { flushLogs, type Logger } from './logger';
import { developmentKeys } from './modules/keys/dev-keys';
import { createApiKeyRepository } from './modules/keys/repository';

/** SIGTERM waits this long for requests in flight, then closes them. */
export const DRAIN_TIMEOUT_MS = 10_000;
const DATABASE_WAIT_ATTEMPTS = 30;

/** Migrations, retried while the database is still coming up (a container starting beside it, say). */
async function migrateWhenReachable(database: DatabaseHandle, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const started = performance.now();
      await runMigrations(database);
      logger.info(
        { driver: database.driver, ms: Math.round(performance.now() - started) },
        'migrations applied',
      );
      return;
    } catch (error) {
      if (!isDatabaseUnavailable(error) || attempt === DATABASE_WAIT_ATTEMPTS) throw error;
      logger.warn({ attempt, of: DATABASE_WAIT_ATTEMPTS }, 'database unreachable, retrying in 1 s');
      await Bun.sleep(1000);
    }
  }
}

export async function startServer(config: Config, logger: Logger) {
  const database = openDatabase(config);
  await migrateWhenReachable(database, logger);
  const apiKeys = createApiKeyRepository(database.db);
  if (config.appEnv === 'development') {
    await apiKeys.upsert(developmentKeys);
    logger.info({ keys: developmentKeys.map((key) => key.name) }, 'development keys ready');
    if (await isEmpty(database.db)) {
      logger.info(
        { inserted: await seedSampleLoans(database.db) },
        'seeded the sample loans into the empty database',
      );
    }
  } else if (
    (config.appEnv === 'staging' || config.appEnv === 'production') &&
    (await apiKeys.countActive(developmentKeys.map((key) => key.keyHash))) > 0
  ) {
    throw new Error(
      `a development API key is active in this ${config.appEnv} database; revoke it (bun run keys:list, keys:revoke ID)`,
    );
  }

  const app = createApp({ config, database, logger }).listen({
    port: config.port,
    hostname: config.host,
    maxRequestBodySize: SERVER_MAX_BODY_BYTES,
    // Elysia turns SO_REUSEPORT on, which lets a second server share the port silently; a port in use is an error.
    reusePort: false,
  });
  const url = `http://${config.host}:${app.server?.port}`;
  logger.info({ url, database: database.driver }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      logger.info({ signal }, 'shutting down: no new connections, draining requests in flight');
      const drained = await Promise.race([
        app.stop(false).then(() => true),
        Bun.sleep(DRAIN_TIMEOUT_MS).then(() => false),
      ]);
      if (!drained) {
        logger.warn(
          { timeout_ms: DRAIN_TIMEOUT_MS },
          'requests still in flight after the drain timeout; closing them',
        );
        await app.stop(true);
      }
      await database.close();
      logger.info('stopped');
      await flushLogs(logger);
    })();
    return stopping;
  };
  return { app, url, database, stop };
}
