import { ConfigError, loadConfig } from './config';
import { createLogger, flushLogs } from './logger';
import { startServer } from './server';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  for (const problem of error.problems) console.error(`config error: ${problem}`);
  process.exit(1);
}

const logger = createLogger(config);
try {
  const server = await startServer(config, logger);
  // Installed explicitly: Bun running as PID 1 in a container ignores signals it has no handler for.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => server.stop(signal).then(() => process.exit(0)));
  }
} catch (error) {
  logger.fatal({ err: error }, 'start-up failed');
  await flushLogs(logger);
  process.exit(1);
}
