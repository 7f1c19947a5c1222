import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { Sql } from 'postgres';
import { type DatabaseHandle, openSingleConnection } from './client';
import { hasSqlstate } from './errors';

const migrationsFolder = new URL('../../drizzle', import.meta.url).pathname;
const MIGRATION_LOCK_KEY = 727_001;

// Drizzle's bookkeeping table; the API's role may read it (src/db/roles.ts), to see that nothing is pending.
export const MIGRATIONS_SCHEMA = 'drizzle';
export const MIGRATIONS_TABLE = '__drizzle_migrations';

/** How many migrations in drizzle/ the database lacks, by Drizzle's own rule: those newer than the last applied. */
async function countPending(connection: Sql): Promise<number> {
  const rows = await connection<{ at: string | null }[]>`
    SELECT max(created_at)::text AS at FROM ${connection(MIGRATIONS_SCHEMA)}.${connection(MIGRATIONS_TABLE)}`.catch(
    (error: { code?: string }) => {
      // 3F000 invalid_schema_name, 42P01 undefined_table: no migration has run here yet.
      if (error.code === '3F000' || error.code === '42P01') return [];
      throw error;
    },
  );
  const appliedUntil = rows[0]?.at == null ? Number.NEGATIVE_INFINITY : Number(rows[0].at);
  return readMigrationFiles({ migrationsFolder }).filter((migration) => migration.folderMillis > appliedUntil)
    .length;
}

/**
 * Applies the migrations in drizzle/ that the database has not seen. On Postgres it holds an advisory lock on a
 * connection of its own, so replicas starting together apply each migration once; and it looks before it
 * applies, so the API's own role, which may not create anything, starts on an up-to-date database.
 */
export async function runMigrations(handle: DatabaseHandle): Promise<void> {
  if (handle.driver === 'pglite') {
    await migratePglite(handle.db as unknown as PgliteDatabase, { migrationsFolder });
    return;
  }
  const connection = openSingleConnection(handle.url, 10);
  try {
    await connection`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    const pending = await countPending(connection);
    if (pending > 0) {
      await migratePostgres(drizzle(connection), { migrationsFolder }).catch(async (error) => {
        if (!hasSqlstate(error, '42501')) throw error;
        const [role] = await connection<{ name: string }[]>`SELECT current_user AS name`;
        throw new Error(
          `${pending} migration(s) pending, which the role ${role?.name} may not apply: run bun run db:migrate as the database owner`,
          { cause: error },
        );
      });
    }
    await connection`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    await connection.end();
  }
}
