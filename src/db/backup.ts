import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openSingleConnection } from './client';

const BACKUP_FILE = /^loans-\d{8}T\d{6}Z\.dump$/;

async function run(command: string[]): Promise<void> {
  const child = Bun.spawn(command, { stdout: 'ignore', stderr: 'pipe' });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`${command[0]} exited with ${code}: ${stderr.trim()}`);
}

/**
 * Writes a pg_dump custom-format archive named for the UTC time into `dir`, then keeps only the newest `keep`
 * archives. The dump is written under a temporary name and renamed when complete, so a crash never leaves a
 * file that looks like a backup but is not one.
 */
export async function createBackup(options: { databaseUrl: string; dir: string; keep: number; now?: Date }) {
  const { databaseUrl, dir, keep, now = new Date() } = options;
  await mkdir(dir, { recursive: true });
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const file = join(dir, `loans-${stamp}.dump`);
  const partial = `${file}.partial`;
  try {
    await run(['pg_dump', '--format=custom', '--no-owner', `--file=${partial}`, `--dbname=${databaseUrl}`]);
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  const backups = (await readdir(dir)).filter((name) => BACKUP_FILE.test(name)).sort();
  const removed = backups.slice(0, Math.max(0, backups.length - keep)).map((name) => join(dir, name));
  await Promise.all(removed.map((path) => rm(path)));
  return { file, removed };
}

/** Tables outside Postgres' own schemas: a database with none is empty. */
async function countTables(databaseUrl: string): Promise<number> {
  const sql = openSingleConnection(databaseUrl);
  try {
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`;
    return row?.n ?? 0;
  } finally {
    await sql.end();
  }
}

/**
 * Restores an archive into the database in one transaction. A database that already has tables is refused
 * unless `force`, which drops the objects the archive recreates.
 */
export async function restoreBackup(options: { databaseUrl: string; file: string; force: boolean }) {
  const { databaseUrl, file, force } = options;
  if (!(await Bun.file(file).exists())) throw new Error(`no backup file at ${file}`);
  const tables = await countTables(databaseUrl);
  if (tables > 0 && !force) {
    throw new Error(
      `the target database already has ${tables} tables; restore into an empty one or pass --force`,
    );
  }
  await run([
    'pg_restore',
    '--no-owner',
    '--exit-on-error',
    '--single-transaction',
    ...(tables > 0 ? ['--clean', '--if-exists'] : []),
    `--dbname=${databaseUrl}`,
    file,
  ]);
}
