import { ConfigError, loadConfig } from '../../config';
import { createLogger, flushLogs, type Logger } from '../../logger';
import { type DatabaseHandle, openDatabase } from '../client';

/** Runs one operator command with JSON progress logs; any failure is one clear line and exit code 1. */
export async function runCommand(name: string, command: (logger: Logger) => Promise<void>): Promise<void> {
  const logger = createLogger({ appEnv: 'production', logLevel: 'info', logFormat: 'json' });
  try {
    await command(logger);
  } catch (error) {
    const message = error instanceof ConfigError ? error.problems.join('; ') : (error as Error).message;
    logger.fatal({ err: error }, `${name} failed: ${message}`);
    process.exitCode = 1;
  } finally {
    await flushLogs(logger);
  }
}

/** A command on the service's database: DATABASE_URL, or the embedded database without it. */
export const runDatabaseCommand = (
  name: string,
  command: (database: DatabaseHandle, logger: Logger) => Promise<void>,
) =>
  runCommand(name, async (logger) => {
    const database = openDatabase(loadConfig({ APP_ENV: 'development', ...process.env }));
    try {
      logger.info({ driver: database.driver }, `${name}: started`);
      await command(database, logger);
    } finally {
      await database.close();
    }
  });
