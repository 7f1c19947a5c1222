import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { type DatabaseHandle, openSingleConnection } from './client';

const migrationsFolder = new URL('../../drizzle', import.meta.url).pathname;
const MIGRATION_LOCK_KEY = 727_001;

/**
 * Applies the migrations in drizzle/ that the database has not seen. On Postgres it holds an advisory lock on a
 * connection of its own, so replicas starting together apply each migration once.
 */
export async function runMigrations(handle: DatabaseHandle): Promise<void> {
  if (handle.driver === 'pglite') {
    await migratePglite(handle.db as unknown as PgliteDatabase, { migrationsFolder });
    return;
  }
  const connection = openSingleConnection(handle.url, 10);
  try {
    await connection`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await migratePostgres(drizzle(connection), { migrationsFolder });
    await connection`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    await connection.end();
  }
}
