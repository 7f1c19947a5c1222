import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { TransactionSql } from 'postgres';
import { openSingleConnection } from './client';
import { MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from './migrate';

/** The role the API connects as: DML on the service's tables, nothing else. */
export interface ApiRole {
  name: string;
  password: string;
}

// The audit trail: the API reads and appends, never changes or removes (the contract's loan_events rule).
const APPEND_ONLY_TABLES = new Set(['loan_events']);
const SCHEMA = 'public';
const SCRAM_ITERATIONS = 4096;
// Two migrate jobs at once would both try CREATE ROLE; one waits for the other instead.
const GRANT_LOCK_KEY = 727_002;

/**
 * The SCRAM-SHA-256 verifier Postgres would store for `password` (RFC 5802 / 7677), sent in its place so the
 * password itself never reaches the server, its logs or pg_stat_activity. Postgres runs the password through
 * SASLprep first, which leaves printable ASCII as it is: the only passwords the migrate command accepts.
 */
export function scramVerifier(
  password: string,
  salt = randomBytes(16),
  iterations = SCRAM_ITERATIONS,
): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Runs a statement that takes no bind parameters, its identifiers and literals quoted by Postgres' format(). */
async function runFormatted(sql: TransactionSql, template: string, ...values: string[]): Promise<void> {
  const placeholders = values.map((_, index) => `$${index + 2}::text`).join(', ');
  const [row] = await sql.unsafe<{ statement: string }[]>(
    `SELECT format($1::text${placeholders ? `, ${placeholders}` : ''}) AS statement`,
    [template, ...values],
  );
  if (!row) throw new Error('format() returned no row');
  await sql.unsafe(row.statement);
}

async function refuseUnsafeRole(sql: TransactionSql, name: string): Promise<boolean> {
  const [self] = await sql<{ name: string }[]>`SELECT current_user AS name`;
  if (self?.name === name) {
    throw new Error(`API_DB_ROLE must not be the role migrations run as (${name}), which owns the tables`);
  }
  const [existing] = await sql<{ privileged: boolean; member_of: string[] }[]>`
    SELECT rolsuper OR rolreplication OR rolbypassrls AS privileged,
           array(SELECT b.rolname::text FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
                 WHERE m.member = r.oid) AS member_of
    FROM pg_roles r WHERE rolname = ${name}`;
  if (!existing) return false;
  if (existing.privileged) {
    throw new Error(
      `API_DB_ROLE ${name} is a superuser, or has REPLICATION or BYPASSRLS: use a role of its own`,
    );
  }
  if (existing.member_of.length > 0) {
    throw new Error(
      `API_DB_ROLE ${name} is a member of ${existing.member_of.join(', ')} and inherits its privileges: use a role of its own`,
    );
  }
  return true;
}

/**
 * Creates the API's login role if it is missing (or sets its password), and leaves it exactly: USAGE on the
 * schema; SELECT, INSERT, UPDATE and DELETE on every table in it, SELECT and INSERT only on the append-only
 * ones; USAGE and SELECT on its sequences; SELECT on Drizzle's migrations table; nothing else (no CREATE,
 * TRUNCATE, REFERENCES, TRIGGER, ownership).
 * Run after every migration as the owner: default privileges would miss tables a later migration creates
 * under another owner, and this also takes back what a table's rule no longer gives.
 */
export async function grantApiRole(databaseUrl: string, role: ApiRole): Promise<void> {
  const connection = openSingleConnection(databaseUrl);
  try {
    await connection.begin(async (sql) => {
      await sql`SELECT pg_advisory_xact_lock(${GRANT_LOCK_KEY})`;
      const exists = await refuseUnsafeRole(sql, role.name);
      await runFormatted(
        sql,
        `${exists ? 'ALTER' : 'CREATE'} ROLE %I WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD %L`,
        role.name,
        scramVerifier(role.password),
      );
      // Postgres 15 no longer gives PUBLIC CREATE on public; a cluster upgraded from 14 or older still does.
      const [publicCreate] = await sql<{ allowed: boolean }[]>`
        SELECT has_schema_privilege('public', ${SCHEMA}, 'CREATE') AS allowed`;
      if (publicCreate?.allowed) await runFormatted(sql, 'REVOKE CREATE ON SCHEMA %I FROM PUBLIC', SCHEMA);
      await runFormatted(sql, 'REVOKE ALL ON SCHEMA %I FROM %I', SCHEMA, role.name);
      await runFormatted(sql, 'GRANT USAGE ON SCHEMA %I TO %I', SCHEMA, role.name);

      // Read-only on Drizzle's bookkeeping, so the API's start-up can see that no migration is pending.
      await runFormatted(sql, 'GRANT USAGE ON SCHEMA %I TO %I', MIGRATIONS_SCHEMA, role.name);
      await runFormatted(
        sql,
        'REVOKE ALL ON TABLE %I.%I FROM %I',
        MIGRATIONS_SCHEMA,
        MIGRATIONS_TABLE,
        role.name,
      );
      await runFormatted(
        sql,
        'GRANT SELECT ON TABLE %I.%I TO %I',
        MIGRATIONS_SCHEMA,
        MIGRATIONS_TABLE,
        role.name,
      );

      const relations = await sql<{ name: string; kind: string }[]>`
        SELECT c.relname AS name, c.relkind AS kind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ${SCHEMA} AND c.relkind IN ('r', 'p', 'S') ORDER BY c.relname`;
      for (const { name, kind } of relations) {
        const type = kind === 'S' ? 'SEQUENCE' : 'TABLE';
        const privileges =
          kind === 'S'
            ? 'USAGE, SELECT'
            : APPEND_ONLY_TABLES.has(name)
              ? 'SELECT, INSERT'
              : 'SELECT, INSERT, UPDATE, DELETE';
        await runFormatted(sql, `REVOKE ALL ON ${type} %I.%I FROM %I`, SCHEMA, name, role.name);
        await runFormatted(sql, `GRANT ${privileges} ON ${type} %I.%I TO %I`, SCHEMA, name, role.name);
      }
    });
  } finally {
    await connection.end();
  }
}
