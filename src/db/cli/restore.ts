/** `bun run db:restore FILE [--force]`: restores a db:backup archive into DATABASE_URL. */
import { Type as t } from '@sinclair/typebox';
import { DatabaseUrl, readEnv } from '../../config';
import { restoreBackup } from '../backup';
import { runCommand } from './command';

await runCommand('restore', async (logger) => {
  const { DATABASE_URL } = readEnv(t.Object({ DATABASE_URL: DatabaseUrl }), process.env);
  const args = process.argv.slice(2);
  const file = args.find((arg) => !arg.startsWith('--'));
  if (!file) throw new Error('usage: bun run db:restore FILE [--force]');
  logger.info({ file }, 'restore: running pg_restore');
  await restoreBackup({ databaseUrl: DATABASE_URL, file, force: args.includes('--force') });
  logger.info({ file }, 'restore: done');
});
