import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type SQL, sql } from 'drizzle-orm';
import { runMigrations } from '../../src/db/migrate';
import { createTestDatabase, type TestDatabase } from '../support/database';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

/** Rows of a raw query, whichever driver runs it (postgres.js returns an array, PGlite an object). */
async function rows<T>(query: SQL): Promise<T[]> {
  const result = await database.db.execute(query);
  return (Array.isArray(result) ? result : (result as unknown as { rows: T[] }).rows) as T[];
}

const sqlStateOf = async (query: SQL): Promise<string | undefined> => {
  try {
    await database.db.execute(query);
    return undefined;
  } catch (error) {
    for (let e: unknown = error; e instanceof Error; e = e.cause) {
      const code = (e as { code?: string }).code;
      if (code) return code;
    }
    throw error;
  }
};

describe('migrations', () => {
  test('running them again on a migrated database changes nothing', async () => {
    const before = await rows<{ id: number }>(sql`SELECT id FROM drizzle.__drizzle_migrations ORDER BY id`);
    expect(before.length).toBeGreaterThanOrEqual(2);
    await runMigrations(database);
    expect(await rows(sql`SELECT id FROM drizzle.__drizzle_migrations ORDER BY id`)).toEqual(before);
  });

  test('store money as numeric with two places and times as timestamptz', async () => {
    const columns = await rows<{ column_name: string; data_type: string; numeric_scale: number | null }>(
      sql`SELECT column_name, data_type, numeric_scale FROM information_schema.columns
          WHERE table_name = 'loans' ORDER BY column_name`,
    );
    const byName = Object.fromEntries(columns.map((c) => [c.column_name, c]));
    expect(byName.amount).toMatchObject({ data_type: 'numeric', numeric_scale: 2 });
    expect(byName.interest_rate_apr).toMatchObject({ data_type: 'numeric', numeric_scale: 2 });
    expect(byName.created_at?.data_type).toBe('timestamp with time zone');
  });
});

describe('the database itself refuses what the API would refuse', () => {
  const insert = (values: SQL) =>
    sql`INSERT INTO loans (borrower_id, amount, currency, status, term_months, interest_rate_apr) VALUES ${values}`;

  test('accepts a valid row', async () => {
    expect(await sqlStateOf(insert(sql`('b', 50000, 'INR', 'approved', 360, 100)`))).toBeUndefined();
  });

  test.each([
    ['a zero amount', sql`('b', 0, 'INR', 'pending', 6, 10)`],
    ['an amount over 50000', sql`('b', 50000.01, 'INR', 'pending', 6, 10)`],
    ['a negative amount', sql`('b', -1, 'INR', 'pending', 6, 10)`],
    ['an unknown status', sql`('b', 10, 'INR', 'lost', 6, 10)`],
    ['a lower-case currency', sql`('b', 10, 'inr', 'pending', 6, 10)`],
    ['an empty borrower', sql`('', 10, 'INR', 'pending', 6, 10)`],
    ['a control character in the borrower', sql`(${'a\u0001b'}, 10, 'INR', 'pending', 6, 10)`],
    ['a term of 0 months', sql`('b', 10, 'INR', 'pending', 0, 10)`],
    ['an interest rate over 100', sql`('b', 10, 'INR', 'pending', 6, 100.5)`],
  ])('refuses %s (check_violation)', async (_name, values) => {
    expect(await sqlStateOf(insert(values))).toBe('23514');
  });

  test('rounds nothing silently: a third decimal is rounded by numeric(12,2), so the API validates it first', async () => {
    const [row] = await rows<{ amount: string }>(
      sql`INSERT INTO loans (borrower_id, amount, currency) VALUES ('b', 10.005, 'INR') RETURNING amount::text`,
    );
    expect(row?.amount).toBe('10.01');
  });

  test('keeps updated_at current on every change', async () => {
    const [created] = await rows<{ id: string; created_at: string; updated_at: string }>(
      sql`INSERT INTO loans (borrower_id, amount, currency) VALUES ('b', 10, 'INR')
          RETURNING id, created_at::text, updated_at::text`,
    );
    await Bun.sleep(15);
    const [updated] = await rows<{ updated_at: string; created_at: string }>(
      sql`UPDATE loans SET status = 'approved' WHERE id = ${created?.id} RETURNING created_at::text, updated_at::text`,
    );
    expect(updated?.created_at).toBe(created?.created_at as string);
    expect(Date.parse(updated?.updated_at ?? '')).toBeGreaterThan(Date.parse(created?.updated_at ?? ''));
  });
});
