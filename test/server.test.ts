import { afterAll, describe, expect, test } from 'bun:test';
import { type ApiProcess, startApiProcess } from './support/api-process';
import { suiteDatabaseUrl } from './support/database';
import { createFreshDatabase } from './support/postgres';
import { runToExit } from './support/run';

const repoRoot = new URL('..', import.meta.url).pathname;

/** Runs the service's own command in the repository with only the given variables (and PATH, HOME). */
const runService = (command: string[], env: Record<string, string>) =>
  runToExit(command, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });

describe('start-up', () => {
  test('bun start refuses to run without DATABASE_URL, in one line naming it', async () => {
    const { code, stderr } = await runService(['bun', 'start'], {});
    expect(code).toBe(1);
    const lines = stderr.split('\n').filter((line) => line.startsWith('config error'));
    expect(lines).toEqual([
      'config error: DATABASE_URL must be set when APP_ENV is production (a postgres:// URL)',
    ]);
  });

  test('a bad variable stops start-up with its name and the accepted values', async () => {
    const { code, stderr } = await runService(['bun', 'src/index.ts'], {
      APP_ENV: 'test',
      LOG_FORMAT: 'xml',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('config error: LOG_FORMAT must be one of json, pretty (got "xml")');
  });
});

describe('a running server', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('logs JSON lines carrying the request id, and drains and exits 0 on SIGTERM', async () => {
    // Production mode on the real Postgres when the suite has one; test mode on embedded PGlite otherwise.
    let databaseUrl = '';
    if (suiteDatabaseUrl) {
      const fresh = await createFreshDatabase(suiteDatabaseUrl);
      cleanups.push(fresh.drop);
      databaseUrl = fresh.url;
    }
    const api: ApiProcess = await startApiProcess({
      databaseUrl,
      env: { APP_ENV: suiteDatabaseUrl ? 'production' : 'test', LOG_LEVEL: 'info' },
    });
    cleanups.push(() => api.stop('SIGKILL'));

    // No credential: the 401 is logged like any other answer.
    const response = await fetch(`${api.url}/api/stats`, { headers: { 'x-request-id': 'proc-test-1' } });
    expect(response.status).toBe(401);
    expect(await api.stop('SIGTERM')).toBe(0);

    const lines = api
      .logs()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['listening', 'stopped']));
    expect(lines).toContainEqual(
      expect.objectContaining({ request_id: 'proc-test-1', route: '/api/stats', status: 401, level: 'info' }),
    );
    expect(lines.every((line) => typeof line.time === 'string')).toBeTrue();
  });
});
