import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { createBackup, restoreBackup } from '../../src/db/backup';
import { openDatabase } from '../../src/db/client';
import { runMigrations } from '../../src/db/migrate';
import { seedSampleLoans } from '../../src/db/seed';
import { createFreshDatabase } from '../support/postgres';
import { missingTools } from '../support/tools';

const baseUrl = process.env.DATABASE_URL;
// Without a real Postgres this is the embedded pass: the Postgres pass runs these.
if (!baseUrl) console.warn('[skip] backup tests: DATABASE_URL is not set (a real Postgres)');
const skip = !baseUrl || missingTools('backup tests', { pg_dump: Bun.which('pg_dump') });

describe.skipIf(skip)('db:backup and db:restore', () => {
  const dropAfter: (() => Promise<void>)[] = [];
  let source: string;
  let dir: string;

  const fresh = async () => {
    const database = await createFreshDatabase(baseUrl as string);
    dropAfter.push(database.drop);
    return database.url;
  };
  const totals = async (url: string) => {
    const sql = postgres(url, { max: 1 });
    const [row] = await sql<
      { count: number; sum: string }[]
    >`SELECT count(*)::int AS count, sum(amount)::text AS sum FROM loans`;
    const ids = await sql<{ id: string }[]>`SELECT id FROM loans ORDER BY id`;
    await sql.end();
    return { ...row, ids: ids.map((r) => r.id) };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'loans-backup-'));
    source = await fresh();
    const database = openDatabase({ appEnv: 'test', databaseUrl: source, dbPoolMax: 1 });
    await runMigrations(database);
    await seedSampleLoans(database.db);
    await database.close();
    const sql = postgres(source, { max: 1 });
    await sql`INSERT INTO loans (borrower_id, amount, currency) SELECT 'bulk', 0.01 * i, 'USD' FROM generate_series(1, 500) i`;
    await sql.end();
  });
  afterAll(async () => {
    await Promise.all(dropAfter.map((drop) => drop()));
    await rm(dir, { recursive: true, force: true });
  });

  test('backup then restore into an empty database yields identical rows', async () => {
    const { file } = await createBackup({ databaseUrl: source, dir, keep: 7 });
    expect(file).toMatch(/loans-\d{8}T\d{6}Z\.dump$/);
    const target = await fresh();
    await restoreBackup({ databaseUrl: target, file, force: false });
    const [before, after] = [await totals(source), await totals(target)];
    expect(after).toEqual(before);
    expect(after.count).toBe(505);
    expect(after.sum).toBe('125152.50');
  });

  test('refuses to restore over a database that has tables, unless forced', async () => {
    const { file } = await createBackup({ databaseUrl: source, dir, keep: 7 });
    const target = await fresh();
    const sql = postgres(target, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE loans (id int)`;
    await sql.end();
    expect(restoreBackup({ databaseUrl: target, file, force: false })).rejects.toThrow(
      /already has 1 tables/,
    );
    await restoreBackup({ databaseUrl: target, file, force: true });
    expect((await totals(target)).count).toBe(505);
  });

  test('keeps only the newest BACKUP_KEEP archives', async () => {
    const rotating = join(dir, 'rotating');
    for (const minute of [1, 2, 3]) {
      await createBackup({
        databaseUrl: source,
        dir: rotating,
        keep: 2,
        now: new Date(Date.UTC(2026, 0, 1, 0, minute)),
      });
    }
    expect((await readdir(rotating)).sort()).toEqual([
      'loans-20260101T000200Z.dump',
      'loans-20260101T000300Z.dump',
    ]);
  });

  test('bun run db:backup prints where it wrote and exits 0', async () => {
    const child = Bun.spawn(['bun', 'run', 'db:backup'], {
      env: { ...process.env, DATABASE_URL: source, BACKUP_DIR: join(dir, 'cli') },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const output = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    const [written] = await readdir(join(dir, 'cli'));
    expect(output).toContain(`backup: wrote ${join(dir, 'cli', written as string)}`);
  });
});
