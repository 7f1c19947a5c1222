import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { type DatabaseHandle, openDatabase, openSingleConnection } from '../../../src/db/client';
import { runMigrations } from '../../../src/db/migrate';
import { grantApiRole } from '../../../src/db/roles';
import type { LoanStatus } from '../../../src/db/schema';
import { commandNames, commandsFrom } from '../../../src/modules/loans/lifecycle';
import type { Stats } from '../../../src/modules/stats/model';
import { createStatsRepository } from '../../../src/modules/stats/repository';
import { type TestApp, useTestAppWithoutLoans } from '../../support/app';
import { resetLoans, suiteDatabaseUrl } from '../../support/database';
import { disbursedLoan, utcDate } from '../../support/lending-handlers';
import { command, repayInFull, rowsOf } from '../../support/lifecycle';
import { createFreshDatabase } from '../../support/postgres';

type Db = TestApp['database']['db'];

// GET /api/stats reads loan_totals and GET /api/stats/portfolio portfolio_totals, which triggers keep; these
// compare them with a scan of loans itself.

/** The statistics as the scan of every loan computes them (what GET /api/stats answered before the aggregates). */
async function scannedStats(db: Db): Promise<Stats> {
  const rows = await rowsOf<{
    grouping: number;
    status: LoanStatus;
    currency: string;
    count: number;
    total: string;
    average: string;
  }>(
    db,
    sql`SELECT grouping(status, currency) AS grouping, status, currency, count(*)::int AS count,
               round(sum(amount), 2)::text AS total, round(avg(amount), 2)::text AS average
        FROM loans GROUP BY GROUPING SETS ((status), (currency), ())`,
  );
  const stats: Stats = {
    total_loans: 0,
    total_amount: '0.00',
    avg_amount: '0.00',
    by_status: { pending: 0, approved: 0, rejected: 0, disbursed: 0, repaid: 0, defaulted: 0 },
    by_currency: {},
    amounts_by_currency: {},
  };
  for (const row of rows) {
    if (row.count === 0) continue;
    if (Number(row.grouping) === 1) stats.by_status[row.status] = row.count;
    else if (Number(row.grouping) === 2) {
      stats.by_currency[row.currency] = row.count;
      stats.amounts_by_currency[row.currency] = { count: row.count, total: row.total, average: row.average };
    } else Object.assign(stats, { total_loans: row.count, total_amount: row.total, avg_amount: row.average });
  }
  return stats;
}

/** Per (status, currency): the aggregates summed over their slots, and the scan, side by side. */
async function keyTotals(db: Db) {
  const [kept, scanned] = await Promise.all([
    rowsOf(
      db,
      sql`SELECT status, currency, sum(loans)::int AS loans, sum(amount)::text AS amount FROM loan_totals
          GROUP BY status, currency HAVING sum(loans) <> 0 OR sum(amount) <> 0 ORDER BY status, currency`,
    ),
    rowsOf(
      db,
      sql`SELECT status, currency, count(*)::int AS loans, sum(amount)::text AS amount FROM loans
          GROUP BY status, currency ORDER BY status, currency`,
    ),
  ]);
  return { kept, scanned };
}

/**
 * The portfolio as a scan of every disbursed loan and its instalments computes it (what GET /api/stats/portfolio
 * answered before portfolio_totals).
 */
async function scannedPortfolio(db: Db, today: string) {
  const rows = await rowsOf<{ currency: string }>(
    db,
    sql`SELECT currency, count(*)::int AS active_loans,
               sum(outstanding)::numeric(14, 2)::text AS outstanding_principal,
               coalesce(sum(outstanding) FILTER (WHERE days_past_due >= 1), 0)::numeric(14, 2)::text AS par_1,
               coalesce(sum(outstanding) FILTER (WHERE days_past_due >= 30), 0)::numeric(14, 2)::text AS par_30,
               coalesce(sum(outstanding) FILTER (WHERE days_past_due >= 90), 0)::numeric(14, 2)::text AS par_90
        FROM (SELECT loans.currency, coalesce(sum(i.principal - i.paid_principal), loans.amount) AS outstanding,
                     ${today}::date - coalesce(
                       min(i.due_on) FILTER (WHERE i.principal + i.interest > i.paid_principal + i.paid_interest),
                       CASE WHEN count(i.number) = 0 AND loans.term_months IS NOT NULL
                            THEN (loans.disbursed_on + interval '1 month')::date END) AS days_past_due
              FROM loans LEFT JOIN instalments i ON i.loan_id = loans.id
              WHERE loans.status = 'disbursed' GROUP BY loans.id) AS per_loan
        GROUP BY currency ORDER BY currency`,
  );
  return Object.fromEntries(rows.map(({ currency, ...figures }) => [currency, figures]));
}

async function expectAggregatesMatchScan(t: TestApp) {
  const { kept, scanned } = await keyTotals(t.database.db);
  expect(kept).toEqual(scanned);
  const response = await t.req('/api/stats');
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual(await scannedStats(t.database.db));
  const portfolio = await t.req('/api/stats/portfolio');
  expect(portfolio.status).toBe(200);
  expect(await portfolio.json()).toEqual(await scannedPortfolio(t.database.db, utcDate()));
}

/** A small deterministic generator (mulberry32), so a failing mix can be replayed from its seed. */
function randomFrom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return {
    below: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
  };
}

const t = useTestAppWithoutLoans();

describe('loan_totals and portfolio_totals, kept by triggers', () => {
  const seed = Number(process.env.AGGREGATES_SEED ?? 20261201);

  test(`matches a full scan after a random mix of creates, commands, amendments and repayments (seed ${seed})`, async () => {
    const random = randomFrom(seed);
    /** Each loan's status as its last answer said. */
    const loans = new Map<string, LoanStatus>();
    const amount = () => `${1 + random.below(49_999)}.${String(random.below(100)).padStart(2, '0')}`;
    const track = async (response: Response) => {
      if (response.ok && response.status !== 201) {
        const loan = (await response.json()) as { id: string; status: LoanStatus };
        loans.set(loan.id, loan.status);
      }
    };

    /** One request (or two) chosen from the loans as they are now; every random choice is drawn here. */
    function nextStep(busy: Set<string>): () => Promise<unknown> {
      const ids = [...loans.keys()].filter((id) => !busy.has(id));
      const choice = random.below(10);
      if (ids.length < 3 || choice < 3) {
        const loan = {
          borrower_id: `usr_mix_${random.below(5)}`,
          amount: amount(),
          currency: random.pick(['KES', 'INR', 'USD']),
          term_months: random.pick([6, 12, 24]),
          interest_rate_apr: random.pick(['0.00', '9.50', '24.00']),
        };
        return async () => {
          const response = await t.post('/api/loans', loan);
          expect(response.status).toBe(201);
          const created = (await response.json()) as { id: string };
          loans.set(created.id, 'pending');
        };
      }
      const id = random.pick(ids);
      busy.add(id);
      if (choice < 7) {
        // Mostly a command the loan allows; sometimes any, refused (409) and rolled back.
        const allowed = commandsFrom(loans.get(id) as LoanStatus);
        const name =
          random.below(5) > 0 && allowed.length > 0 ? random.pick(allowed) : random.pick(commandNames);
        const body = name === 'disburse' ? { disbursed_on: '2026-01-15' } : { reason: 'mix' };
        return async () => track(await command(t, id, name, body));
      }
      if (choice < 8) {
        const patch = JSON.stringify({ amount: amount() });
        return async () =>
          track(
            await t.req(`/api/loans/${id}`, {
              method: 'PATCH',
              headers: { 'content-type': 'application/json' },
              body: patch,
            }),
          );
      }
      // A small repayment on a disbursed loan, then sometimes the rest, which moves it to repaid.
      const disbursed = ids.filter((each) => loans.get(each) === 'disbursed');
      const target = disbursed.length > 0 ? random.pick(disbursed) : id;
      busy.add(target);
      const payTheRest = random.below(2) === 0;
      return async () => {
        const response = await t.post(`/api/loans/${target}/repayments`, { amount: '10.00' });
        if (response.status !== 201 || !payTheRest) return;
        expect((await repayInFull(t, target)).status).toBe(201);
        loans.set(target, 'repaid');
      };
    }

    // In bursts of concurrent requests, each on loans of its own: on Postgres they run on several
    // connections, so several slots.
    for (let burst = 0; burst < 25; burst++) {
      const busy = new Set<string>();
      await Promise.all(Array.from({ length: 8 }, () => nextStep(busy)).map((run) => run()));
    }
    const statuses = await rowsOf<{ status: string }>(t.database.db, sql`SELECT DISTINCT status FROM loans`);
    expect(statuses.length).toBeGreaterThanOrEqual(5);
    await expectAggregatesMatchScan(t);
  }, 60_000);

  test('follow a bulk insert, a bulk update, a delete and a change of currency made in plain SQL', async () => {
    const db = t.database.db;
    await db.execute(
      sql`INSERT INTO loans (borrower_id, amount, currency) SELECT 'b', 0.01 * i, 'USD' FROM generate_series(1, 1000) i`,
    );
    await db.execute(sql`UPDATE loans SET status = 'rejected' WHERE amount < 2`);
    await db.execute(sql`UPDATE loans SET currency = 'EUR', amount = amount + 0.01 WHERE amount >= 9`);
    await db.execute(sql`UPDATE loans SET version = version + 1`);
    await db.execute(sql`DELETE FROM loans WHERE amount BETWEEN 5 AND 6`);
    await expectAggregatesMatchScan(t);
    expect((await createStatsRepository(db).read()).by_status).toMatchObject({ pending: 700, rejected: 199 });
  });

  test("follow a schedule's instalments paid, stored and deleted in plain SQL, for the portfolio", async () => {
    const db = t.database.db;
    const terms = {
      borrower_id: 'b',
      amount: '6000.00',
      currency: 'INR',
      term_months: 6,
      interest_rate_apr: '0.00',
    };
    const ids: string[] = [];
    for (const disbursedOn of ['2026-01-15', '2026-06-15', '2026-10-15']) {
      ids.push((await disbursedLoan(t, terms, disbursedOn)).id);
    }
    await db.execute(sql`UPDATE instalments SET paid_principal = principal WHERE number <= 2`);
    await expectAggregatesMatchScan(t);
    await db.execute(sql`UPDATE instalments SET paid_principal = paid_principal + 1 WHERE number = 3`);
    await expectAggregatesMatchScan(t);
    // Without its schedule a disbursed loan counts as one from before v2: its amount, due a month after disbursal.
    await db.execute(sql`DELETE FROM instalments WHERE loan_id = ${ids[0]}`);
    await expectAggregatesMatchScan(t);
    await db.execute(sql`UPDATE loans SET amount = amount + 1 WHERE id = ${ids[0]}`);
    await db.execute(sql`UPDATE loans SET status = 'defaulted' WHERE id = ${ids[1]}`);
    await expectAggregatesMatchScan(t);
    const portfolio = await (await t.req('/api/stats/portfolio')).json();
    expect(portfolio).toMatchObject({ INR: { active_loans: 2 } });
  });

  test('are emptied by the TRUNCATE of resetLoans, and count from zero again after it', async () => {
    await t.post('/api/loans', { borrower_id: 'b', amount: '100.00', currency: 'KES' });
    await resetLoans(t.database.db);
    expect(await rowsOf(t.database.db, sql`SELECT * FROM loan_totals`)).toEqual([]);
    await expectAggregatesMatchScan(t);
    expect((await t.post('/api/loans', { borrower_id: 'b', amount: '0.35', currency: 'KES' })).status).toBe(
      201,
    );
    await expectAggregatesMatchScan(t);
    expect(((await (await t.req('/api/stats')).json()) as Stats).total_amount).toBe('0.35');
  });
});

/**
 * A database with the migrations before the aggregates applied, loans in it, then the rest: the one that adds
 * loan_totals must count the loans already there.
 */
describe('the aggregates migration', () => {
  let handle: DatabaseHandle & { dropDatabase?: () => Promise<void> };
  let earlier: string;

  beforeAll(async () => {
    const migrations = new URL('../../../drizzle', import.meta.url).pathname;
    earlier = mkdtempSync(join(tmpdir(), 'migrations-'));
    cpSync(migrations, earlier, { recursive: true });
    const journalPath = join(earlier, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
    const at = journal.entries.findIndex((entry) => entry.tag.endsWith('_stats_aggregates'));
    expect(at).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, at);
    writeFileSync(journalPath, JSON.stringify(journal));

    if (suiteDatabaseUrl) {
      const fresh = await createFreshDatabase(suiteDatabaseUrl);
      const connection = openSingleConnection(fresh.url);
      await migratePostgres(drizzlePostgres(connection), { migrationsFolder: earlier });
      await connection.end();
      handle = {
        ...openDatabase({ appEnv: 'test', databaseUrl: fresh.url, dbPoolMax: 2 }),
        dropDatabase: fresh.drop,
      };
    } else {
      const client = new PGlite();
      const db = drizzlePglite(client);
      await migratePglite(db, { migrationsFolder: earlier });
      handle = { db: db as unknown as Db, driver: 'pglite', close: () => client.close() };
    }
  });

  afterAll(async () => {
    await handle?.close();
    await handle?.dropDatabase?.();
    rmSync(earlier, { recursive: true, force: true });
  });

  test('backfills the loans that existed before it', async () => {
    await handle.db.execute(
      sql`INSERT INTO loans (borrower_id, amount, currency, status, disbursed_on) VALUES
          ('a', 10.10, 'USD', 'pending', NULL), ('b', 20.20, 'USD', 'pending', NULL),
          ('c', 30.30, 'KES', 'disbursed', '2026-01-15'), ('d', 0.01, 'KES', 'rejected', NULL)`,
    );
    await runMigrations(handle);
    const { kept, scanned } = await keyTotals(handle.db);
    expect(scanned).toHaveLength(3);
    expect(kept).toEqual(scanned);
    expect(await createStatsRepository(handle.db).read()).toMatchObject({
      total_loans: 4,
      total_amount: '60.61',
      avg_amount: '15.15',
      amounts_by_currency: { USD: { count: 2, total: '30.30', average: '15.15' } },
    });
    // The disbursed loan has no term, so nothing of it ever falls due.
    expect(await createStatsRepository(handle.db).portfolio('2026-12-02')).toEqual({
      KES: { active_loans: 1, outstanding_principal: '30.30', par_1: '0.00', par_30: '0.00', par_90: '0.00' },
    });
  });
});

if (!suiteDatabaseUrl) {
  console.warn('the API-role aggregates test skipped: roles and grants need a real Postgres (DATABASE_URL)');
}

describe.skipIf(!suiteDatabaseUrl)('the API database role', () => {
  const role = `loans_api_totals_${process.pid}`;
  const password = 'totals-password-0123456789';

  // The grants live in the test database, which outlives this block: take them back there, then drop the role.
  afterAll(async () => {
    const owner = openSingleConnection((t.database as { url: string }).url);
    await owner.unsafe(`DROP OWNED BY ${role}`);
    await owner.end();
    const admin = openSingleConnection(suiteDatabaseUrl as string);
    await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  test('keeps the aggregates through the triggers with the grants db:migrate gives it', async () => {
    const url = (t.database as { url: string }).url;
    await grantApiRole(url, { name: role, password });
    const asApi = new URL(url);
    asApi.username = role;
    asApi.password = password;
    const api = openSingleConnection(asApi.toString());
    try {
      const [loan] =
        await api`INSERT INTO loans (borrower_id, amount, currency) VALUES ('usr_role', 10, 'KES') RETURNING id`;
      await api`UPDATE loans SET status = 'rejected' WHERE id = ${loan?.id}`;
      await api`INSERT INTO loans (borrower_id, amount, currency) VALUES ('usr_role', 2.50, 'KES')`;
      await api`DELETE FROM loans WHERE amount = 2.50`;
    } finally {
      await api.end();
    }
    await expectAggregatesMatchScan(t);
    expect((await createStatsRepository(t.database.db).read()).by_status.rejected).toBe(1);
  });
});
