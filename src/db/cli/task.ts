import { loadConfig } from '../../config';
import { createLogger, type Logger } from '../../logger';
import { type DatabaseHandle, openDatabase } from '../client';

/**
 * Runs one database command against DATABASE_URL (the embedded database without it), with JSON progress logs,
 * exit code 1 on failure and the connection always closed.
 */
export async function runDatabaseTask(
  name: string,
  task: (database: DatabaseHandle, logger: Logger) => Promise<void>,
): Promise<void> {
  const config = loadConfig({ APP_ENV: 'development', LOG_FORMAT: 'json', ...process.env });
  const logger = createLogger({ ...config, logLevel: 'info' });
  const database = openDatabase(config);
  try {
    logger.info({ driver: database.driver }, `${name}: started`);
    await task(database, logger);
  } catch (error) {
    logger.fatal({ err: error }, `${name}: failed`);
    process.exitCode = 1;
  } finally {
    await database.close();
    logger.flush();
  }
}
