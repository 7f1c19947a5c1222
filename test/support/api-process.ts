import type { Subprocess } from 'bun';
import { freePort } from '../../src/free-port';
import { runToExit } from './run';

export { freePort };

const repoRoot = new URL('../..', import.meta.url).pathname;

export interface ApiProcessOptions {
  /** The Postgres the process serves from (required: production mode refuses to start without one). */
  databaseUrl: string;
  /** Defaults to a free port on 127.0.0.1. */
  port?: number;
  /** Added to, and winning over, the defaults: APP_ENV=production, LOG_FORMAT=json, HOST=127.0.0.1. */
  env?: Record<string, string>;
  /** How long to wait for GET /health to answer 200 (default 20 s). */
  readyTimeoutMs?: number;
}

export interface ApiProcess {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  process: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Everything the process wrote so far, stdout then stderr interleaved as it arrived. */
  logs: () => string;
  /** Sends the signal (SIGTERM by default), waits up to 15 s, then SIGKILLs; resolves to the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number>;
  /** The exit code once the process has ended (128 + n when a signal n ended it). */
  exited: Promise<number>;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.push(decoder.decode(chunk, { stream: true }));
}

/**
 * Starts `bun src/index.ts` as its own process, the way an operator runs it, and resolves once GET /health
 * answers 200. Fails with the process's output when it exits or stays unready. Stop it with stop() (or kill
 * `process`) in afterAll.
 */
export async function startApiProcess(options: ApiProcessOptions): Promise<ApiProcess> {
  const port = options.port ?? (await freePort());
  const output: string[] = [];
  const child = Bun.spawn(['bun', 'src/index.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      APP_ENV: 'production',
      LOG_FORMAT: 'json',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: options.databaseUrl,
      ...options.env,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const drained = Promise.all([collect(child.stdout, output), collect(child.stderr, output)]);

  const host = options.env?.HOST ?? '127.0.0.1';
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const logs = () => output.join('');
  // Resolves once the process has ended and everything it wrote has been read, so logs() is complete.
  const exited = Promise.all([child.exited, drained]).then(([code]) => code);
  let ended = false;
  void exited.then(() => {
    ended = true;
  });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!ended) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  while (true) {
    if (ended) {
      throw new Error(`the API process exited with code ${await exited} before it was ready:\n${logs()}`);
    }
    const healthy = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) })
      .then((response) => response.status === 200)
      .catch(() => false);
    if (healthy) break;
    if (Date.now() > deadline) {
      await stop('SIGKILL');
      throw new Error(`the API process was not ready on ${url} in time:\n${logs()}`);
    }
    await Bun.sleep(50);
  }

  return { url, port, process: child, logs, stop, exited };
}

/**
 * Creates an API key in the database at `databaseUrl` the way an operator does (`bun run keys:create`) and
 * returns it: the last line of the command's output.
 */
export async function createApiKeyWithCli(databaseUrl: string, role = 'officer'): Promise<string> {
  const { code, stdout, stderr } = await runToExit(
    ['bun', 'run', 'keys:create', '--role', role, '--name', `test-${role}`],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl },
    },
  );
  if (code !== 0) throw new Error(`keys:create failed (${code}): ${stdout}${stderr}`);
  return stdout.trim().split('\n').at(-1) as string;
}
