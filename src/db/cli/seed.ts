/** `bun run db:seed`: inserts the sample loans that are missing; running it twice changes nothing. */
import { runMigrations } from '../migrate';
import { sampleLoans, seedSampleLoans } from '../seed';
import { runDatabaseCommand } from './command';

await runDatabaseCommand('seed', async (database, logger) => {
  await runMigrations(database);
  const inserted = await seedSampleLoans(database.db);
  logger.info({ inserted, already_present: sampleLoans.length - inserted }, 'seed: sample loans present');
});
