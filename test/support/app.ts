import { Writable } from 'node:stream';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/logger';
import { createTestDatabase, type TestDatabase } from './database';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  database: TestDatabase;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Sends a request through app.handle(): no port, the same code path as the server. */
  req: (path: string, init?: RequestInit) => Promise<Response>;
  /** POSTs a value as JSON (a string is sent as the raw body). */
  post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<Response>;
  close: () => Promise<void>;
}

export async function createTestApp(): Promise<TestApp> {
  const database = await createTestDatabase();
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({ appEnv: 'test', logLevel: 'info', logFormat: 'json' }, sink);
  const app = createApp({ database, logger });
  const req = (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init));
  return {
    app,
    database,
    logs,
    req,
    post: (path, body, headers) =>
      req(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    close: () => database.close(),
  };
}
