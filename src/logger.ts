import { writeSync } from 'node:fs';
import pino, { type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config';

export type Logger = pino.Logger;

type LineDestination = DestinationStream & { flush: (done: (error?: Error) => void) => void };

/** The process has one stdout, so every logger writing there shares one batch. */
let stdout: LineDestination | undefined;

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
  stdout ??= stdoutLines();
  return pino(options, stdout);
}

/** How long a log line may wait in memory before it is written, and how much may wait. */
const FLUSH_AFTER_MS = 10;
const FLUSH_AT_CHARS = 64 * 1024;

/**
 * stdout in batches: lines wait in memory for at most FLUSH_AFTER_MS (or until FLUSH_AT_CHARS are waiting) and
 * leave in one synchronous write, as pino's own stdout destination writes synchronously. A native write per line
 * cost about 4 µs, a quarter of a /health answer; a batch costs a fraction of a microsecond per line. One write
 * path only: Bun's asynchronous writer for the batches and a synchronous write of the rest at exit interleaved
 * mid-line on a pipe. What is still waiting when the process exits is written on the way out.
 */
function stdoutLines(): LineDestination {
  let waiting: string[] = [];
  let waitingChars = 0;
  let timer: Timer | undefined;
  const writeWaiting = () => {
    clearTimeout(timer);
    timer = undefined;
    if (waiting.length === 0) return;
    const text = waiting.join('');
    waiting = [];
    waitingChars = 0;
    writeSync(1, text);
  };
  process.once('exit', writeWaiting);
  return {
    write(line: string) {
      waiting.push(line);
      waitingChars += line.length;
      if (waitingChars >= FLUSH_AT_CHARS) writeWaiting();
      else timer ??= setTimeout(writeWaiting, FLUSH_AFTER_MS).unref();
    },
    flush(done) {
      try {
        writeWaiting();
        done();
      } catch (error) {
        done(error as Error);
      }
    },
  };
}

/** What one access-log line says about a request. */
export interface AccessFields {
  request_id: string;
  method: string;
  route: string;
  status: number;
  duration_ms: number;
  actor: string | null;
}

/**
 * Writes one access-log line per request, in the same JSON shape as pino's `logger.info(fields, 'request')`
 * but serialised directly: pino's generic path costs several times more per line, and the access line is on
 * every request's path.
 */
export function accessLogger(logger: Logger): (fields: AccessFields) => void {
  const stream = (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
  const base = bindings ? `,${bindings}` : '';
  // The time text is made once per millisecond, the precision it shows: under load many lines share one.
  let lastMillisecond = Number.NaN;
  let time = '';
  return (fields) => {
    if (!stream || !logger.isLevelEnabled('info')) return;
    const now = Date.now();
    if (now !== lastMillisecond) {
      lastMillisecond = now;
      time = new Date(now).toISOString();
    }
    stream.write(
      `{"level":"info","time":"${time}"${base},"request_id":${JSON.stringify(fields.request_id)},` +
        `"method":${JSON.stringify(fields.method)},"route":${JSON.stringify(fields.route)},"status":${fields.status},` +
        `"duration_ms":${fields.duration_ms},"actor":${JSON.stringify(fields.actor)},"msg":"request"}\n`,
    );
  };
}

/** Resolves once every buffered line is written: call it before the process exits. */
export const flushLogs = (logger: Logger) => new Promise<void>((resolve) => logger.flush(() => resolve()));
