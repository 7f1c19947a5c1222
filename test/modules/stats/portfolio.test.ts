import { beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { devKeys, useTestApp } from '../../support/app';
import { resetLoans } from '../../support/database';
import {
  addDays,
  command,
  createLoan,
  disbursalWithInstalmentDueOn,
  disbursedLoan,
  expectProblem,
  MONEY,
  moneyOf,
  outstandingPrincipal,
  repay,
  scheduleOf,
  sumMoney,
  utcDate,
} from '../../support/lending-handlers';
import { rowsOf } from '../../support/lifecycle';

const t = useTestApp();

interface Figures {
  active_loans: number;
  outstanding_principal: string;
  par_1: string;
  par_30: string;
  par_90: string;
}

const loan = (amount: string, currency: string) => ({
  borrower_id: 'usr_portfolio_001',
  amount,
  currency,
  term_months: 12,
  interest_rate_apr: '24.00',
});

/**
 * A disbursed loan exactly `days` past due: disbursed so that an instalment (the `fromInstalment`-th or a later
 * one) fell due `days` ago, every earlier one paid in full, then `partly` more paid towards the one now due (not
 * enough to clear it).
 */
async function pastDue(
  days: number,
  terms: ReturnType<typeof loan>,
  partly?: string,
  fromInstalment = 1,
): Promise<string> {
  const { disbursedOn, months } = disbursalWithInstalmentDueOn(addDays(utcDate(), -days), fromInstalment);
  const { id } = await disbursedLoan(t, terms, disbursedOn);
  const earlier = (await scheduleOf(t, id)).instalments.slice(0, months - 1).map((row) => row.total);
  if (earlier.length > 0) await repay(t, id, { amount: sumMoney(earlier) });
  if (partly) await repay(t, id, { amount: partly });
  expect((await scheduleOf(t, id)).days_past_due).toBe(days);
  return id;
}

/** The portfolio recomputed from each disbursed loan's own schedule, as a client could. */
async function expectedPortfolio(disbursed: string[]): Promise<Record<string, Figures>> {
  const sums: Record<string, { count: number; outstanding: bigint; par: [bigint, bigint, bigint] }> = {};
  for (const id of disbursed) {
    const schedule = await scheduleOf(t, id);
    const outstanding = outstandingPrincipal(schedule);
    sums[schedule.currency] ??= { count: 0, outstanding: 0n, par: [0n, 0n, 0n] };
    const figures = sums[schedule.currency] as NonNullable<(typeof sums)[string]>;
    figures.count += 1;
    figures.outstanding += outstanding;
    [1, 30, 90].forEach((threshold, index) => {
      if (schedule.days_past_due >= threshold)
        figures.par[index] = (figures.par[index] as bigint) + outstanding;
    });
  }
  return Object.fromEntries(
    Object.entries(sums).map(([currency, { count, outstanding, par }]) => [
      currency,
      {
        active_loans: count,
        outstanding_principal: moneyOf(outstanding),
        par_1: moneyOf(par[0]),
        par_30: moneyOf(par[1]),
        par_90: moneyOf(par[2]),
      },
    ]),
  );
}

describe('GET /api/stats/portfolio', () => {
  const disbursed: string[] = [];

  beforeAll(async () => {
    await resetLoans(t.database.db);
    // INR: current, due today, and exactly at each edge of the buckets, one partly repaid.
    disbursed.push((await disbursedLoan(t, loan('12000.50', 'INR'))).id);
    for (const days of [0, 1, 29, 30, 89, 90]) disbursed.push(await pastDue(days, loan('12000.50', 'INR')));
    disbursed.push(await pastDue(200, loan('30000.00', 'INR'), '1000.00'));
    // Its first two instalments paid, the third due 15 days ago: past due from the third, not the first.
    disbursed.push(await pastDue(15, loan('9000.00', 'INR'), undefined, 3));
    // KES: one 45 days past due, partly repaid, and one current.
    disbursed.push(await pastDue(45, loan('25000.00', 'KES'), '600.00'));
    disbursed.push((await disbursedLoan(t, loan('5000.00', 'KES'))).id);
    // VND, with no minor unit: one 10 days past due.
    disbursed.push(await pastDue(10, loan('8400.00', 'VND'), '300.00'));

    // Not in the portfolio: INR repaid, defaulted, pending, approved and rejected; NGN only repaid; PHP only
    // pending (so neither currency appears at all).
    const repaid = await disbursedLoan(t, loan('1000.00', 'INR'), addDays(utcDate(), -100));
    await repay(t, repaid.id, { amount: (await scheduleOf(t, repaid.id)).totals.outstanding });
    const repaidNgn = await disbursedLoan(t, loan('2000.00', 'NGN'), addDays(utcDate(), -100));
    await repay(t, repaidNgn.id, { amount: (await scheduleOf(t, repaidNgn.id)).totals.outstanding });
    const defaulted = await disbursedLoan(t, loan('4000.00', 'INR'), addDays(utcDate(), -200));
    await command(t, defaulted.id, 'write-off', { reason: 'Borrower unreachable' });
    await createLoan(t, loan('1500.00', 'INR'));
    await createLoan(t, loan('1500.00', 'PHP'));
    const approved = await createLoan(t, loan('1600.00', 'INR'));
    await command(t, approved.id, 'approve');
    const rejected = await createLoan(t, loan('1700.00', 'INR'));
    await command(t, rejected.id, 'reject', { reason: 'No income' });
  });

  test("matches the figures recomputed from every disbursed loan's schedule", async () => {
    const response = await t.req('/api/stats/portfolio');
    expect(response.status).toBe(200);
    const portfolio = (await response.json()) as Record<string, Figures>;
    expect(portfolio).toEqual(await expectedPortfolio(disbursed));
  });

  test('counts only disbursed loans, and leaves out a currency with none', async () => {
    const portfolio = (await (await t.req('/api/stats/portfolio')).json()) as Record<string, Figures>;
    expect(Object.keys(portfolio).sort()).toEqual(['INR', 'KES', 'VND']);
    expect(portfolio.INR?.active_loans).toBe(9);
    expect(portfolio.KES?.active_loans).toBe(2);
    expect(portfolio.VND?.active_loans).toBe(1);
  });

  test('puts a loan in par_N from exactly N days past due', async () => {
    const portfolio = (await (await t.req('/api/stats/portfolio')).json()) as Record<string, Figures>;
    const schedules = await Promise.all(disbursed.map((id) => scheduleOf(t, id)));
    const inr = schedules.filter((schedule) => schedule.currency === 'INR');
    const atLeast = (days: number) =>
      moneyOf(
        inr
          .filter((schedule) => schedule.days_past_due >= days)
          .reduce((total, schedule) => total + outstandingPrincipal(schedule), 0n),
      );
    // Due today is not yet past due; 1, 30 and 90 days are each in their bucket.
    expect(inr.map((schedule) => schedule.days_past_due).sort((a, b) => a - b)).toEqual([
      0, 0, 1, 15, 29, 30, 89, 90, 200,
    ]);
    expect(portfolio.INR).toMatchObject({ par_1: atLeast(1), par_30: atLeast(30), par_90: atLeast(90) });
    expect(portfolio.INR?.par_30).not.toBe(atLeast(31));
    expect(portfolio.INR?.par_90).not.toBe(atLeast(91));
    expect(portfolio.INR?.par_1).not.toBe(atLeast(0));
  });

  test('writes every amount as a string with two places, in every currency', async () => {
    const portfolio = (await (await t.req('/api/stats/portfolio')).json()) as Record<string, Figures>;
    for (const figures of Object.values(portfolio)) {
      for (const amount of [figures.outstanding_principal, figures.par_1, figures.par_30, figures.par_90]) {
        expect(amount).toBeString();
        expect(amount).toMatch(MONEY);
      }
    }
    expect(portfolio.VND?.outstanding_principal).toMatch(/\.00$/);
  });

  test('is for officers and admins: a borrower gets 403, no credential 401', async () => {
    expect((await t.as(devKeys.admin).req('/api/stats/portfolio')).status).toBe(200);
    expect((await t.as(devKeys.officer2).req('/api/stats/portfolio')).status).toBe(200);
    await expectProblem(await t.as(devKeys.borrower).req('/api/stats/portfolio'), 403);
    const anonymous = await t.req('/api/stats/portfolio', { headers: { authorization: '' } });
    await expectProblem(anonymous, 401);
    expect(anonymous.headers.get('www-authenticate')).toStartWith('Bearer');
  });
});

describe('GET /api/stats/portfolio with no disbursed loan', () => {
  test('is an empty object', async () => {
    await resetLoans(t.database.db);
    await createLoan(t, loan('1500.00', 'INR'));
    const response = await t.req('/api/stats/portfolio');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({});
  });
});

describe('GET /api/stats/portfolio with loans disbursed before v2', () => {
  test('counts a loan with no stored schedule as its schedule from disbursed_on shows it', async () => {
    await resetLoans(t.database.db);
    const today = utcDate();
    const ids: string[] = [];
    for (const [days, currency] of [
      [100, 'INR'],
      [40, 'INR'],
      [0, 'KES'],
    ] as const) {
      const [row] = await rowsOf<{ id: string }>(
        t.database.db,
        sql`INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr, status, disbursed_on)
            VALUES ('usr_legacy_001', '12000.50', ${currency}, 6, '24.00', 'disbursed', ${addDays(today, -days)})
            RETURNING id`,
      );
      ids.push(row?.id as string);
    }
    const schedules = await Promise.all(ids.map((id) => scheduleOf(t, id)));
    expect(schedules.map((schedule) => schedule.days_past_due > 0)).toEqual([true, true, false]);
    const portfolio = await (await t.req('/api/stats/portfolio')).json();
    expect(portfolio).toEqual(await expectedPortfolio(ids));
  });
});

describe('GET /api/stats/portfolio under concurrent requests', () => {
  test('answers each request with every loan disbursed before it was sent, however many are asked for at once', async () => {
    await resetLoans(t.database.db);
    const disburse = (borrower: string) =>
      t.database.db.execute(
        sql`INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr, status, disbursed_on)
            VALUES (${borrower}, '1000.00', 'KES', 6, '24.00', 'disbursed', ${utcDate()})`,
      );
    const answers: Promise<Response>[] = [];
    const sentAfter: number[] = [];
    for (let disbursed = 1; disbursed <= 10; disbursed++) {
      answers.push(t.req('/api/stats/portfolio')); // under way while the next loan is disbursed
      await disburse(`usr_concurrent_${disbursed}`);
      answers.push(t.req('/api/stats/portfolio'), t.req('/api/stats/portfolio'));
      sentAfter.push(disbursed, disbursed);
    }
    const counts = await Promise.all(
      answers.map(
        async (answer) => ((await (await answer).json()) as Record<string, Figures>).KES?.active_loans,
      ),
    );
    // Each count is at least the loans disbursed before its request (more when a later one committed first).
    const afterEach = counts.filter((_, index) => index % 3 !== 0);
    for (const [index, count] of afterEach.entries()) {
      expect(count).toBeGreaterThanOrEqual(sentAfter[index] as number);
    }
  });
});
