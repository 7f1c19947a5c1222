import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { type DatabaseHandle, openDatabase, openSingleConnection } from '../../src/db/client';
import { runMigrations } from '../../src/db/migrate';
import { developmentKeys } from '../../src/modules/keys/dev-keys';
import { createApiKeyRepository } from '../../src/modules/keys/repository';
import { capturingLogger } from '../support/app';
import { suiteDatabaseUrl } from '../support/database';
import { createFreshDatabase } from '../support/postgres';

if (!suiteDatabaseUrl) {
  console.warn(
    'stuck database test skipped: it needs a real Postgres (DATABASE_URL), where another session can lock',
  );
}

const OFFICER = { authorization: 'Bearer dev-officer-key' };

/** The app on a fresh database, configured from variables as the server is, and a way to break into it. */
function useAppWithTimeouts(env: Record<string, string>) {
  const running = {} as {
    app: ReturnType<typeof createApp>;
    database: DatabaseHandle;
    logs: Record<string, unknown>[];
    url: string;
    drop: () => Promise<void>;
  };
  beforeAll(async () => {
    const fresh = await createFreshDatabase(suiteDatabaseUrl as string);
    const config = loadConfig({ APP_ENV: 'test', DATABASE_URL: fresh.url, ...env });
    const database = openDatabase(config);
    await runMigrations(database);
    await createApiKeyRepository(database.db).upsert(developmentKeys);
    const { logger, logs } = capturingLogger();
    Object.assign(running, {
      app: createApp({ config, database, logger }),
      database,
      logs,
      url: fresh.url,
      drop: fresh.drop,
    });
  });
  afterAll(async () => {
    await running.database?.close();
    await running.drop?.();
  });
  const req = (path: string) =>
    running.app.handle(new Request(`http://localhost${path}`, { headers: OFFICER }));
  return { running, req };
}

/** Another session holding ACCESS EXCLUSIVE on loans, as a migration or a careless ALTER does, until released. */
async function lockLoans(url: string): Promise<() => Promise<void>> {
  const connection = openSingleConnection(url);
  const locked = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const transaction = connection.begin(async (sql) => {
    await sql`LOCK TABLE loans IN ACCESS EXCLUSIVE MODE`;
    locked.resolve();
    await release.promise;
  });
  await Promise.race([locked.promise, transaction]);
  return async () => {
    release.resolve();
    await transaction;
    await connection.end();
  };
}

const timed = async (request: () => Promise<Response>) => {
  const started = performance.now();
  const response = await request();
  return { response, ms: Math.round(performance.now() - started) };
};

describe.skipIf(!suiteDatabaseUrl)('while another session holds a lock on loans', () => {
  describe.each([
    ['lock_timeout', { DB_STATEMENT_TIMEOUT_MS: '5000', DB_LOCK_TIMEOUT_MS: '300' }, 300],
    ['statement_timeout', { DB_STATEMENT_TIMEOUT_MS: '400', DB_LOCK_TIMEOUT_MS: '0' }, 400],
  ])('the pool’s %s', (setting, env, timeoutMs) => {
    const { running, req } = useAppWithTimeouts(env);

    test('cuts a request short with 503 and Retry-After, /ready says 503, and both recover on release', async () => {
      const loanId = '00000000-0000-0000-0000-000000000001';
      expect((await req(`/api/loans/${loanId}`)).status).toBe(404);
      const release = await lockLoans(running.url);
      try {
        const { response, ms } = await timed(() => req(`/api/loans/${loanId}`));
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('5');
        expect(((await response.json()) as { detail: string }).detail).toContain('busy');
        expect(ms).toBeGreaterThanOrEqual(timeoutMs - 50);
        expect(ms).toBeLessThan(timeoutMs + 1500);

        const ready = await timed(() => req('/ready'));
        expect(ready.response.status).toBe(503);
        expect(ready.ms).toBeLessThan(2000);
        console.info(`${setting} ${timeoutMs} ms: GET 503 after ${ms} ms, /ready 503 after ${ready.ms} ms`);
      } finally {
        await release();
      }
      expect((await req(`/api/loans/${loanId}`)).status).toBe(404);
      expect((await req('/ready')).status).toBe(200);

      const warning = running.logs.find((line) => line.msg === 'database busy: statement or lock timeout');
      expect(warning).toMatchObject({ level: 'warn', route: '/api/loans/:id' });
      expect(JSON.stringify(warning)).not.toMatch(/select|Failed query|params/i);
    });
  });

  describe('with the defaults', () => {
    const { running } = useAppWithTimeouts({});

    test('every pool connection carries a 5 s statement timeout and a 2 s lock timeout', async () => {
      // One statement, so both settings come from the same connection.
      const rows = await running.database.db.execute(
        sql`SELECT current_setting('statement_timeout') AS statement, current_setting('lock_timeout') AS lock`,
      );
      expect([...(rows as unknown as Record<string, string>[])]).toEqual([{ statement: '5s', lock: '2s' }]);
    });
  });
});
