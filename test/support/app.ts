import { afterAll, beforeAll, beforeEach } from 'bun:test';
import { Writable } from 'node:stream';
import { createApp } from '../../src/app';
import { type Config, loadConfig } from '../../src/config';
import { SERVER_MAX_BODY_BYTES } from '../../src/http/json-body';
import { createLogger, type Logger } from '../../src/logger';
import { developmentKeys } from '../../src/modules/keys/dev-keys';
import { createApiKeyRepository } from '../../src/modules/keys/repository';
import { createTestDatabase, resetLoans, type TestDatabase } from './database';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  database: TestDatabase;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /**
   * Sends a request through app.handle(): no port, the same code path as the server. It carries the
   * development officer's key unless `init` sets Authorization itself (to '' for none).
   */
  req: (path: string, init?: RequestInit) => Promise<Response>;
  /** POSTs a value as JSON (a string is sent as the raw body). */
  post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<Response>;
  /** The same two, as another credential: `t.as(devKeys.borrower).req(…)`. */
  as: (credential: string) => Pick<TestApp, 'req' | 'post'>;
  close: () => Promise<void>;
}

/** The development keys of the contract, seeded into every test database. */
export const devKeys = {
  admin: 'dev-admin-key',
  officer: 'dev-officer-key',
  officer2: 'dev-officer2-key',
  /** borrower usr_kenya_001 */
  borrower: 'dev-borrower-key',
  /** borrower usr_india_002 */
  borrower2: 'dev-borrower2-key',
} as const;

export const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

/** A JSON logger at info whose every line lands, parsed, in `logs`. */
export function capturingLogger(): { logger: Logger; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ appEnv: 'test', logLevel: 'info', logFormat: 'json' }, sink), logs };
}

export async function createTestApp(overrides: Partial<Config> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const { logger, logs } = capturingLogger();
  const config = { ...loadConfig({ APP_ENV: 'test' }), ...overrides };
  await createApiKeyRepository(database.db).upsert(developmentKeys);
  const app = createApp({ config, database, logger });
  const as = (credential: string) => {
    const req = (path: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${credential}`);
      if (headers.get('authorization') === '') headers.delete('authorization');
      return app.handle(new Request(`http://localhost${path}`, { ...init, headers }));
    };
    return {
      req,
      post: (path: string, body: unknown, headers?: Record<string, string>) =>
        req(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        }),
    };
  };
  return { app, database, logs, ...as(devKeys.officer), as, close: () => database.close() };
}

/**
 * A test app for the enclosing file or describe block: created in beforeAll, closed in afterAll. The object
 * returned is filled in when beforeAll runs, so tests use it directly.
 */
export function useTestApp(overrides: Partial<Config> = {}): TestApp {
  const testApp = {} as TestApp;
  beforeAll(async () => {
    Object.assign(testApp, await createTestApp(overrides));
  });
  afterAll(() => testApp.close());
  return testApp;
}

export interface ListeningTestApp extends TestApp {
  /** http://127.0.0.1:<port> of the app served on a free loopback port. */
  url: string;
}

/**
 * useTestApp(), served on a free loopback port as the real server serves it, for what app.handle() cannot
 * show (Bun's own body limit, the peer address, a browser).
 */
export function useListeningTestApp(overrides: Partial<Config> = {}): ListeningTestApp {
  const testApp = {} as ListeningTestApp;
  beforeAll(async () => {
    const created = await createTestApp(overrides);
    const server = created.app.listen({
      port: 0,
      hostname: '127.0.0.1',
      maxRequestBodySize: SERVER_MAX_BODY_BYTES,
      reusePort: false,
    });
    Object.assign(testApp, created, { url: `http://127.0.0.1:${server.server?.port}` });
  });
  afterAll(async () => {
    await testApp.app.stop(true);
    await testApp.close();
  });
  return testApp;
}

/** useTestApp(), with every loan (and everything that hangs off one) deleted before each test. */
export function useTestAppWithoutLoans(overrides: Partial<Config> = {}): TestApp {
  const testApp = useTestApp(overrides);
  beforeEach(() => resetLoans(testApp.database.db));
  return testApp;
}
