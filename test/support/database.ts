import { sql } from 'drizzle-orm';
import { type DatabaseHandle, openDatabase } from '../../src/db/client';
import { runMigrations } from '../../src/db/migrate';
import { createFreshDatabase } from './postgres';

/** Which database the suite runs on: the real Postgres at DATABASE_URL when set, else embedded PGlite. */
export const suiteDatabaseUrl = process.env.DATABASE_URL || undefined;

export type TestDatabase = DatabaseHandle;

/** A migrated, empty database of the suite's kind; close() also drops it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (!suiteDatabaseUrl) {
    const database = openDatabase({ appEnv: 'test', databaseUrl: undefined, dbPoolMax: 1 });
    await runMigrations(database);
    return database;
  }
  const fresh = await createFreshDatabase(suiteDatabaseUrl);
  const database = openDatabase({ appEnv: 'test', databaseUrl: fresh.url, dbPoolMax: 5 });
  await runMigrations(database);
  return {
    ...database,
    close: async () => {
      await database.close();
      await fresh.drop();
    },
  };
}

/**
 * Empties the loans and everything that hangs off them; the statistics (loan_totals) follow through their own
 * TRUNCATE trigger. The audit trail refuses TRUNCATE to every writer; the owner (the suite) lifts that for the
 * statement and puts it back.
 */
export async function resetLoans(db: TestDatabase['db']): Promise<void> {
  await db.execute(sql`ALTER TABLE loan_events DISABLE TRIGGER loan_events_no_truncate`);
  try {
    await db.execute(sql`TRUNCATE loans, loan_events, instalments, repayments, idempotency_keys`);
  } finally {
    await db.execute(sql`ALTER TABLE loan_events ENABLE TRIGGER loan_events_no_truncate`);
  }
}
