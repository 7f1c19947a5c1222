import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { type Config, DB_TIMEOUT_DEFAULTS } from '../config';

// Without Drizzle's schema argument: the relational query API is not used, and with it Drizzle builds a query
// builder per table for every transaction.
export type Database = PgDatabase<PgQueryResultHKT>;

export type DatabaseHandle = {
  db: Database;
  close: () => Promise<void>;
} & ({ driver: 'postgres'; url: string } | { driver: 'pglite' });

export const embeddedDataDir = new URL('../../.data/pglite', import.meta.url).pathname;

// Short enough that a request fails fast with 503 while the database is down, long enough for a busy server.
const CONNECT_TIMEOUT_SECONDS = 3;

/** One dedicated connection, for work that must not share the pool: migrations under a lock, admin queries. */
export const openSingleConnection = (url: string, connectTimeoutSeconds = CONNECT_TIMEOUT_SECONDS) =>
  postgres(url, { max: 1, onnotice: () => {}, connect_timeout: connectTimeoutSeconds });

/**
 * The service's database: a postgres.js pool on DATABASE_URL, or the embedded PGlite. The pool's sessions carry
 * statement_timeout and lock_timeout (DB_TIMEOUT_DEFAULTS unless the config says otherwise); PGlite has no
 * timers for them and no other session to wait on.
 */
export function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dbPoolMax' | 'appEnv'> &
    Partial<Pick<Config, 'dbStatementTimeoutMs' | 'dbLockTimeoutMs'>>,
): DatabaseHandle {
  if (config.databaseUrl) {
    const statementTimeoutMs = config.dbStatementTimeoutMs ?? DB_TIMEOUT_DEFAULTS.dbStatementTimeoutMs;
    const lockTimeoutMs = config.dbLockTimeoutMs ?? DB_TIMEOUT_DEFAULTS.dbLockTimeoutMs;
    const client = postgres(config.databaseUrl, {
      max: config.dbPoolMax,
      connect_timeout: CONNECT_TIMEOUT_SECONDS,
      idle_timeout: 60,
      onnotice: () => {},
      // Sent in the startup message, so every connection of the pool has them before its first query.
      connection: {
        application_name: 'branch-loans-api',
        statement_timeout: statementTimeoutMs,
        lock_timeout: lockTimeoutMs,
      },
    });
    return {
      db: drizzlePostgres(client),
      driver: 'postgres',
      url: config.databaseUrl,
      close: () => client.end({ timeout: 5 }),
    };
  }
  const dataDir = config.appEnv === 'test' ? undefined : embeddedDataDir;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  return {
    db: drizzlePglite(client),
    driver: 'pglite',
    close: () => client.close(),
  };
}
