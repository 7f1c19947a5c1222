import { afterAll, describe, expect, test } from 'bun:test';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import { hashApiKey } from '../../../src/auth/api-key';
import { openDatabase } from '../../../src/db/client';
import { runMigrations } from '../../../src/db/migrate';
import { developmentKeys } from '../../../src/modules/keys/dev-keys';
import { createApiKeyRepository } from '../../../src/modules/keys/repository';
import { type ApiProcess, startApiProcess } from '../../support/api-process';
import { bearer, devKeys } from '../../support/app';
import { suiteDatabaseUrl } from '../../support/database';
import { createFreshDatabase } from '../../support/postgres';
import { runToExit } from '../../support/run';

const repoRoot = new URL('../../..', import.meta.url).pathname;
const KEY_LINE = /^blk_[A-Za-z0-9_-]{43,}$/;
/** Each test runs Bun processes that migrate a database and start the API: slow on a busy machine. */
const PROCESS_TIMEOUT_MS = 90_000;
/** How long another process may keep honouring a revoked key (its lookup cache: decision record 7). */
const KEY_CACHE_MS = 5000;

/** A keys:… command as an operator runs it, with only these variables (and PATH, HOME). */
const keysCommand = (args: string[], env: Record<string, string>, cwd = repoRoot) =>
  runToExit(['bun', 'run', ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });

interface ListedKey {
  id: string;
  name: string;
  role: string;
  revoked_at: string | null;
}

const listed = (stdout: string): ListedKey[] =>
  stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{') && !line.includes('"level"'))
    .map((line) => JSON.parse(line) as ListedKey);

/** Tries until `check` holds or `ms` passes; true when it held. */
async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await Bun.sleep(100);
  }
  return check();
}

if (!suiteDatabaseUrl) {
  console.warn(
    '[skip] keys CLI against Postgres and production start-up: they need a real Postgres (DATABASE_URL)',
  );
}

describe.skipIf(!suiteDatabaseUrl)('the keys commands and start-up on a real Postgres', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }, PROCESS_TIMEOUT_MS);

  const freshDatabase = async () => {
    const fresh = await createFreshDatabase(suiteDatabaseUrl as string);
    cleanups.push(fresh.drop);
    return fresh.url;
  };
  const start = async (databaseUrl: string, env: Record<string, string> = {}) => {
    const api: ApiProcess = await startApiProcess({ databaseUrl, env });
    cleanups.push(() => api.stop('SIGKILL'));
    return api;
  };
  const keyHashes = async (url: string) => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      return (await sql<{ key_hash: string }[]>`SELECT key_hash FROM api_keys ORDER BY key_hash`).map(
        (row) => row.key_hash,
      );
    } finally {
      await sql.end();
    }
  };

  test(
    'keys:create prints the key alone on the last line; it works over HTTP in production; keys:list shows it without the key; keys:revoke ends it',
    async () => {
      const databaseUrl = await freshDatabase();
      const created = await keysCommand(['keys:create', '--role', 'admin', '--name', 'ops'], {
        DATABASE_URL: databaseUrl,
      });
      expect(created.code).toBe(0);
      const lines = created.stdout.trimEnd().split('\n');
      const key = lines.at(-1) as string;
      expect(key).toMatch(KEY_LINE);
      // Shown once: nowhere else in what the command wrote, and only its hash in the database.
      expect(lines.slice(0, -1).join('\n') + created.stderr).not.toContain(key);
      expect(await keyHashes(databaseUrl)).toEqual([hashApiKey(key)]);

      const api = await start(databaseUrl);
      const keys = await fetch(`${api.url}/api/keys`, { headers: bearer(key) });
      expect(keys.status).toBe(200);
      const [ops] = (await keys.json()) as ListedKey[];
      expect(ops).toMatchObject({ name: 'ops', role: 'admin', revoked_at: null });

      const list = await keysCommand(['keys:list'], { DATABASE_URL: databaseUrl });
      expect(list.code).toBe(0);
      expect(listed(list.stdout)).toEqual([
        expect.objectContaining({ id: ops?.id, name: 'ops', revoked_at: null }),
      ]);
      expect(list.stdout + list.stderr).not.toContain(key);

      const revoked = await keysCommand(['keys:revoke', ops?.id as string], { DATABASE_URL: databaseUrl });
      expect(revoked.code).toBe(0);
      // The running server learns of a revocation made elsewhere within its key cache's lifetime.
      const refused = await within(KEY_CACHE_MS + 1000, async () => {
        const response = await fetch(`${api.url}/api/loans`, { headers: bearer(key) });
        return response.status === 401;
      });
      expect(refused).toBe(true);
      const relisted = await keysCommand(['keys:list'], { DATABASE_URL: databaseUrl });
      expect(listed(relisted.stdout)[0]?.revoked_at).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(api.logs()).not.toContain(key);
    },
    PROCESS_TIMEOUT_MS,
  );

  test(
    'keys:create refuses what the API refuses, and keys:revoke an id that is not one, with exit code 1',
    async () => {
      const databaseUrl = await freshDatabase();
      const env = { DATABASE_URL: databaseUrl };
      const noBorrower = await keysCommand(['keys:create', '--role', 'borrower', '--name', 'app'], env);
      expect(noBorrower.code).toBe(1);
      expect(noBorrower.stdout + noBorrower.stderr).toContain('borrower_id is required');
      const badRole = await keysCommand(['keys:create', '--role', 'root', '--name', 'x'], env);
      expect(badRole.code).toBe(1);
      expect(badRole.stdout + badRole.stderr).toContain('role must be one of');
      const badId = await keysCommand(['keys:revoke', 'nope'], env);
      expect(badId.code).toBe(1);
      const unknownId = await keysCommand(['keys:revoke', '00000000-0000-4000-8000-000000000404'], env);
      expect(unknownId.code).toBe(1);
      expect(await keyHashes(databaseUrl)).toEqual([]);
    },
    PROCESS_TIMEOUT_MS,
  );

  test(
    'production on an empty Postgres has no key at all: every development key gets 401',
    async () => {
      const databaseUrl = await freshDatabase();
      const api = await start(databaseUrl);
      for (const key of Object.values(devKeys)) {
        const response = await fetch(`${api.url}/api/loans`, { headers: bearer(key) });
        expect(response.status).toBe(401);
      }
      expect(await keyHashes(databaseUrl)).toEqual([]);
    },
    PROCESS_TIMEOUT_MS,
  );

  test.each(['production', 'staging'])(
    '%s refuses to start while a development key is active, naming the way out',
    async (appEnv) => {
      const databaseUrl = await freshDatabase();
      const database = openDatabase({ appEnv: 'test', databaseUrl, dbPoolMax: 1 });
      await runMigrations(database);
      await createApiKeyRepository(database.db).upsert(developmentKeys);
      await database.close();
      // Killed after a while, should it start after all, so the test fails rather than hangs.
      const child = Bun.spawn(['bun', 'src/index.ts'], {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          APP_ENV: appEnv,
          DATABASE_URL: databaseUrl,
          PORT: '0',
          HOST: '127.0.0.1',
        },
        stdout: 'pipe',
        stderr: 'pipe',
        timeout: 15_000,
      });
      const [stdout, stderr] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      const code = await child.exited;
      expect(code).toBe(1);
      expect(stdout + stderr).toContain(`a development API key is active in this ${appEnv} database`);
      expect(stdout + stderr).toContain('keys:revoke');
    },
    PROCESS_TIMEOUT_MS,
  );

  test(
    'development seeds exactly the five development keys, and brings a revoked one back at the next start',
    async () => {
      const databaseUrl = await freshDatabase();
      const expected = developmentKeys.map((key) => key.keyHash).sort();
      let api = await start(databaseUrl, { APP_ENV: 'development', LOG_FORMAT: 'json' });
      expect(await keyHashes(databaseUrl)).toEqual(expected);
      for (const key of Object.values(devKeys)) {
        expect((await fetch(`${api.url}/api/loans`, { headers: bearer(key) })).status).toBe(200);
      }
      const officer = developmentKeys.find((key) => key.keyHash === hashApiKey(devKeys.officer));
      const revoke = await fetch(`${api.url}/api/keys/${officer?.id}`, {
        method: 'DELETE',
        headers: bearer(devKeys.admin),
      });
      expect(revoke.status).toBe(204);
      expect((await fetch(`${api.url}/api/loans`, { headers: bearer(devKeys.officer) })).status).toBe(401);
      for (const key of Object.values(devKeys)) expect(api.logs()).not.toContain(key);
      await api.stop();

      api = await start(databaseUrl, { APP_ENV: 'development', LOG_FORMAT: 'json' });
      expect(await keyHashes(databaseUrl)).toEqual(expected);
      expect((await fetch(`${api.url}/api/loans`, { headers: bearer(devKeys.officer) })).status).toBe(200);
    },
    PROCESS_TIMEOUT_MS,
  );
});

describe('the keys commands on the embedded database', () => {
  let workdir: string;
  afterAll(async () => {
    if (workdir) await rm(workdir, { recursive: true, force: true });
  });

  test(
    'keys:create, keys:list and keys:revoke work on PGlite, which keeps only the hash',
    async () => {
      // The embedded database lives in .data/ beside the sources: a copy of them keeps the developer's own apart.
      workdir = await mkdtemp(join(tmpdir(), 'keys-cli-'));
      for (const entry of ['src', 'drizzle', 'package.json']) {
        await cp(join(repoRoot, entry), join(workdir, entry), { recursive: true });
      }
      await symlink(join(repoRoot, 'node_modules'), join(workdir, 'node_modules'));
      const env = {};

      const created = await keysCommand(['keys:create', '--role', 'officer', '--name', 'desk'], env, workdir);
      expect(created.code).toBe(0);
      const key = created.stdout.trimEnd().split('\n').at(-1) as string;
      expect(key).toMatch(KEY_LINE);

      const list = await keysCommand(['keys:list'], env, workdir);
      expect(list.code).toBe(0);
      const [desk] = listed(list.stdout);
      expect(desk).toMatchObject({ name: 'desk', role: 'officer', revoked_at: null });
      expect(list.stdout).not.toContain(key);

      expect((await keysCommand(['keys:revoke', desk?.id as string], env, workdir)).code).toBe(0);
      const relisted = await keysCommand(['keys:list'], env, workdir);
      expect(listed(relisted.stdout)[0]?.revoked_at).toMatch(/^\d{4}-\d\d-\d\dT/);

      const embedded = new PGlite(join(workdir, '.data', 'pglite'));
      try {
        const { rows } = await embedded.query<{ row: string }>(
          'SELECT row_to_json(k)::text AS row FROM api_keys k',
        );
        expect(rows).toHaveLength(1);
        expect(rows[0]?.row).toContain(hashApiKey(key));
        expect(rows[0]?.row).not.toContain(key);
      } finally {
        await embedded.close();
      }
    },
    PROCESS_TIMEOUT_MS,
  );
});
