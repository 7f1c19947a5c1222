import pino, { type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config';

export type Logger = pino.Logger;

/**
 * JSON lines on stdout, or pino-pretty as an in-process stream: pino's worker-thread transports misbehave
 * under Bun.
 */
export function createLogger(
  config: Pick<Config, 'logLevel' | 'logFormat' | 'appEnv'>,
  destination?: DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { service: 'branch-loans-api', env: config.appEnv },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  if (config.logFormat === 'pretty') {
    return pino(options, pretty({ colorize: process.stdout.isTTY, ignore: 'pid,hostname,service,env' }));
  }
  // Lines are buffered up to 4 KiB between writes, which keeps a syscall off most requests; SIGTERM and fatal
  // paths flush (flushLogs) before exiting.
  return pino(options, pino.destination({ dest: 1, sync: false, minLength: 4096 }));
}

/** Resolves once every buffered line is written: call it before the process exits. */
export const flushLogs = (logger: Logger) => new Promise<void>((resolve) => logger.flush(() => resolve()));
