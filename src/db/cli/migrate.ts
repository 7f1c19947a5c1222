/** `bun run db:migrate`: applies pending migrations; the compose `migrate` job runs this. */
import { runMigrations } from '../migrate';
import { runDatabaseCommand } from './command';

await runDatabaseCommand('migrate', async (database, logger) => {
  await runMigrations(database);
  logger.info('migrate: the database is up to date');
});
