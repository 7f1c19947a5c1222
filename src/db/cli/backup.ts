/** `bun run db:backup`: a pg_dump of DATABASE_URL into BACKUP_DIR, keeping the newest BACKUP_KEEP. */
import { Type as t } from '@sinclair/typebox';
import { DatabaseUrl, readEnv } from '../../config';
import { createBackup } from '../backup';
import { runCommand } from './command';

await runCommand('backup', async (logger) => {
  const env = readEnv(
    t.Object({
      DATABASE_URL: DatabaseUrl,
      BACKUP_DIR: t.String({ minLength: 1, description: 'a directory' }),
      BACKUP_KEEP: t.Integer({ minimum: 1, maximum: 10_000, description: 'an integer from 1 to 10000' }),
    }),
    process.env,
    { BACKUP_DIR: './backups', BACKUP_KEEP: '7' },
  );
  logger.info({ dir: env.BACKUP_DIR }, 'backup: running pg_dump');
  const { file, removed } = await createBackup({
    databaseUrl: env.DATABASE_URL,
    dir: env.BACKUP_DIR,
    keep: env.BACKUP_KEEP,
  });
  logger.info({ file, removed }, `backup: wrote ${file}`);
});
