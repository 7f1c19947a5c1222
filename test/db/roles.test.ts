import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type postgres from 'postgres';
import { openDatabase, openSingleConnection } from '../../src/db/client';
import { runMigrations } from '../../src/db/migrate';
import { scramVerifier } from '../../src/db/roles';
import { suiteDatabaseUrl } from '../support/database';
import { createFreshDatabase } from '../support/postgres';
import { runToExit } from '../support/run';

if (!suiteDatabaseUrl) {
  console.warn('database role tests skipped: roles and grants need a real Postgres (DATABASE_URL)');
}

const repoRoot = new URL('../..', import.meta.url).pathname;
const role = `loans_api_test_${process.pid}`;
const passwords = ['first-password-0123456789', 'second-password-9876543210'];

const migrate = (databaseUrl: string, env: Record<string, string>) =>
  runToExit(['bun', 'run', 'db:migrate'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, ...env },
  });

/** The SQLSTATE and message a statement fails with, or 'ok'. */
async function attempt(sql: postgres.Sql, statement: string): Promise<string> {
  try {
    await sql.unsafe(statement);
    return 'ok';
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    return `${code}: ${message}`;
  }
}

describe.skipIf(!suiteDatabaseUrl)('bun run db:migrate with API_DB_ROLE and API_DB_PASSWORD', () => {
  let fresh: { url: string; drop: () => Promise<void> };
  let owner: postgres.Sql;
  let api: postgres.Sql;

  beforeAll(async () => {
    fresh = await createFreshDatabase(suiteDatabaseUrl as string);
    const run = await migrate(fresh.url, { API_DB_ROLE: role, API_DB_PASSWORD: passwords[0] as string });
    expect({ code: run.code, output: run.stdout + run.stderr }).toEqual({
      code: 0,
      output: expect.any(String),
    });
    expect(run.stdout).toContain('the API role has its grants');
    owner = openSingleConnection(fresh.url);
    const asApi = new URL(fresh.url);
    asApi.username = role;
    asApi.password = passwords[0] as string;
    api = openSingleConnection(asApi.toString());
  }, 60_000);

  afterAll(async () => {
    await api?.end();
    await owner?.end();
    await fresh?.drop();
    const admin = openSingleConnection(suiteDatabaseUrl as string);
    await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  test('the API role reads and writes loans', async () => {
    const [loan] =
      await api`INSERT INTO loans (borrower_id, amount, currency) VALUES ('usr_role', 10, 'KES') RETURNING id`;
    expect(await attempt(api, `UPDATE loans SET amount = 11 WHERE id = '${loan?.id}'`)).toBe('ok');
    expect(await attempt(api, 'SELECT count(*) FROM loans')).toBe('ok');
    expect(await attempt(api, `DELETE FROM loans WHERE id = '${loan?.id}'`)).toBe('ok');
  });

  test.each([
    ['DROP TABLE loans', /^42501: must be owner of table loans/],
    ['ALTER TABLE loans ADD COLUMN sneaky integer', /^42501: must be owner of table loans/],
    ['TRUNCATE loans', /^42501: permission denied for table loans/],
    ['CREATE TABLE sneaky (id integer)', /^42501: permission denied for schema public/],
    ['CREATE SCHEMA sneaky', /^42501: permission denied for database/],
    ['DELETE FROM drizzle.__drizzle_migrations', /^42501: permission denied for table __drizzle_migrations/],
    ['CREATE TABLE drizzle.sneaky (id integer)', /^42501: permission denied for schema drizzle/],
  ])('the API role cannot %s', async (statement, refusal) => {
    expect(await attempt(api, statement)).toMatch(refusal);
  });

  test('on loan_events it may INSERT and SELECT, and UPDATE, DELETE and TRUNCATE are refused by its grants', async () => {
    const [loan] =
      await api`INSERT INTO loans (borrower_id, amount, currency) VALUES ('usr_role', 10, 'KES') RETURNING id`;
    const insert = `INSERT INTO loan_events (loan_id, type, to_status, actor) VALUES ('${loan?.id}', 'created', 'pending', 'test')`;
    expect(await attempt(api, insert)).toBe('ok');
    expect(await attempt(api, 'SELECT * FROM loan_events')).toBe('ok');
    // "permission denied for table", not the append-only trigger's message: the grant stops it first.
    for (const statement of [
      'UPDATE loan_events SET reason = $$x$$',
      'DELETE FROM loan_events',
      'TRUNCATE loan_events',
    ]) {
      expect(await attempt(api, statement)).toMatch(/^42501: permission denied for table loan_events/);
    }
  });

  test('has exactly the privileges of its rule on every table and sequence, and nothing else', async () => {
    const tables = await owner<{ name: string; privileges: string[] }[]>`
      SELECT c.relname AS name,
             array(SELECT p FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) AS p
                   WHERE has_table_privilege(${role}, c.oid, p)) AS privileges
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`;
    expect(tables.length).toBeGreaterThan(1);
    for (const { name, privileges } of tables) {
      const rule = name === 'loan_events' ? ['SELECT', 'INSERT'] : ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
      expect({ name, privileges }).toEqual({ name, privileges: rule });
    }
    const sequences = await owner<{ name: string; usage: boolean; update: boolean }[]>`
      SELECT c.relname AS name, has_sequence_privilege(${role}, c.oid, 'USAGE') AS usage,
             has_sequence_privilege(${role}, c.oid, 'UPDATE') AS update
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'S'`;
    for (const sequence of sequences) expect(sequence).toEqual({ ...sequence, usage: true, update: false });
    const [attributes] = await owner`
      SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,
             has_schema_privilege(${role}, 'public', 'CREATE') AS create_in_public,
             (SELECT count(*)::int FROM pg_class WHERE relowner = r.oid) AS owns
      FROM pg_roles r WHERE rolname = ${role}`;
    expect(attributes).toEqual({
      rolcanlogin: true,
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolreplication: false,
      rolbypassrls: false,
      create_in_public: false,
      owns: 0,
    });
  });

  test('a table a later migration adds is granted by the next db:migrate, and the password is updated', async () => {
    await owner.unsafe('CREATE TABLE later_feature (id integer PRIMARY KEY)');
    expect(await attempt(api, 'SELECT * FROM later_feature')).toMatch(/^42501: permission denied/);
    const [before] = await owner`SELECT rolpassword FROM pg_authid WHERE rolname = ${role}`;
    const run = await migrate(fresh.url, { API_DB_ROLE: role, API_DB_PASSWORD: passwords[1] as string });
    expect(run.code).toBe(0);
    expect(await attempt(api, 'SELECT * FROM later_feature')).toBe('ok');
    expect(await attempt(api, 'TRUNCATE later_feature')).toMatch(/^42501/);
    const [after] = await owner`SELECT rolpassword FROM pg_authid WHERE rolname = ${role}`;
    expect(after?.rolpassword).toStartWith('SCRAM-SHA-256$4096:');
    expect(after?.rolpassword).not.toBe(before?.rolpassword);
    // The password itself never went to the server: the statement carried only the verifier.
    expect(JSON.stringify([before, after])).not.toContain(passwords[1]);
  });

  // Connects with the password the test before set (the suite runs in order; trust auth would not notice).
  test("the server's start-up migration step passes as the API role, and names the owner's job when one is pending", async () => {
    const asApi = new URL(fresh.url);
    asApi.username = role;
    asApi.password = passwords[1] as string;
    const database = openDatabase({ appEnv: 'test', databaseUrl: asApi.toString(), dbPoolMax: 1 });
    try {
      await runMigrations(database);
      const [last] =
        await owner`SELECT id, hash, created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1`;
      await owner`DELETE FROM drizzle.__drizzle_migrations WHERE id = ${last?.id}`;
      try {
        await expect(runMigrations(database)).rejects.toThrow(
          `1 migration(s) pending, which the role ${role} may not apply: run bun run db:migrate as the database owner`,
        );
      } finally {
        await owner`INSERT INTO drizzle.__drizzle_migrations (id, hash, created_at) VALUES (${last?.id}, ${last?.hash}, ${last?.created_at})`;
      }
    } finally {
      await database.close();
    }
  });

  test.each([
    [
      'the role without the password',
      { API_DB_ROLE: role },
      'API_DB_ROLE and API_DB_PASSWORD must be set together',
    ],
    ['a short password', { API_DB_ROLE: role, API_DB_PASSWORD: 'short' }, 'API_DB_PASSWORD must be'],
    [
      'the owner as the API role',
      { API_DB_ROLE: 'postgres', API_DB_PASSWORD: passwords[0] as string },
      'must not be the role migrations run as',
    ],
  ])('refuses %s: exit 1 and one line saying why', async (_name, env, reason) => {
    const run = await migrate(fresh.url, env);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toContain(reason);
  });
});

describe.skipIf(!suiteDatabaseUrl)('scramVerifier', () => {
  test('computes the verifier Postgres itself stores for a password', async () => {
    const admin = openSingleConnection(suiteDatabaseUrl as string);
    const probe = `loans_scram_probe_${process.pid}`;
    try {
      await admin.unsafe(`SET password_encryption = 'scram-sha-256'`);
      await admin.unsafe(`CREATE ROLE ${probe} PASSWORD 'pencil-Of-Some_length!'`);
      const [row] = await admin`SELECT rolpassword FROM pg_authid WHERE rolname = ${probe}`;
      const stored = String(row?.rolpassword);
      const [, iterations = '', salt = ''] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored) ?? [];
      expect(scramVerifier('pencil-Of-Some_length!', Buffer.from(salt, 'base64'), Number(iterations))).toBe(
        stored,
      );
    } finally {
      await admin.unsafe(`DROP ROLE IF EXISTS ${probe}`);
      await admin.end();
    }
  });
});
