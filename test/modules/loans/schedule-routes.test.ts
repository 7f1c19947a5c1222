import { beforeEach, describe, expect, test } from 'bun:test';
import type { LoanSchedule } from '../../../src/modules/loans/model';
import { devKeys, useTestApp, useTestAppWithoutLoans } from '../../support/app';
import { resetLoans } from '../../support/database';
import {
  addDays,
  addMonths,
  cents,
  command,
  contractLoan,
  createLoan,
  daysFrom,
  disbursedLoan,
  expectProblem,
  MONEY,
  moneyOf,
  repay,
  scheduleOf,
  sumMoney,
  utcDate,
} from '../../support/lending-handlers';

const t = useTestAppWithoutLoans();

// The contract's example: 12000.50 INR at 24.00 % over 6 months.
const contractInterest = ['240.01', '201.96', '163.15', '123.57', '83.19', '42.01'];
const contractTotals = ['2142.40', '2142.40', '2142.40', '2142.40', '2142.40', '2142.39'];
const contractPrincipal = contractTotals.map((total, index) =>
  moneyOf(cents(total) - cents(contractInterest[index] as string)),
);

function expectContractAmounts(schedule: LoanSchedule) {
  expect(schedule.currency).toBe('INR');
  expect(schedule.instalment_amount).toBe('2142.40');
  expect(schedule.instalments.map((row) => row.number)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(schedule.instalments.map((row) => row.interest)).toEqual(contractInterest);
  expect(schedule.instalments.map((row) => row.total)).toEqual(contractTotals);
  expect(schedule.instalments.map((row) => row.principal)).toEqual(contractPrincipal);
  expect(schedule.totals).toMatchObject({ principal: '12000.50', interest: '853.89', total: '12854.39' });
}

/** Every money field of a schedule as the contract writes money: a string with two places, never a number. */
function expectMoneyEverywhere(schedule: LoanSchedule) {
  const money = [
    schedule.instalment_amount,
    ...Object.values(schedule.totals),
    ...schedule.instalments.flatMap((row) => [
      row.principal,
      row.interest,
      row.total,
      row.paid,
      row.outstanding,
    ]),
  ];
  for (const value of money) expect(value).toMatch(MONEY);
}

describe('GET /api/loans/:id/schedule before disbursal', () => {
  test("projects the contract's example for a pending loan, due monthly from today", async () => {
    const loan = await createLoan(t);
    const today = utcDate();
    const schedule = await scheduleOf(t, loan.id);
    expect(schedule.loan_id).toBe(loan.id);
    expectContractAmounts(schedule);
    expect(schedule.instalments.map((row) => row.due_on)).toEqual(
      [1, 2, 3, 4, 5, 6].map((k) => addMonths(today, k)),
    );
    for (const row of schedule.instalments) {
      expect(row).toMatchObject({ paid: '0.00', outstanding: row.total, status: 'upcoming' });
    }
    expect(schedule.totals).toMatchObject({ paid: '0.00', outstanding: '12854.39' });
    expect(schedule.next_due_on).toBe(addMonths(today, 1));
    expect(schedule.days_past_due).toBe(0);
    expectMoneyEverywhere(schedule);
  });

  test("answers as JSON carrying the request's id, as every response does", async () => {
    const loan = await createLoan(t);
    const response = await t.req(`/api/loans/${loan.id}/schedule`, {
      headers: { 'x-request-id': 'schedule-trace-7' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('schedule-trace-7');
    expect(response.headers.get('content-type')).toBe('application/json');
    expectContractAmounts((await response.json()) as LoanSchedule);
  });

  test('projects an approved loan the same way', async () => {
    const loan = await createLoan(t);
    await command(t, loan.id, 'approve');
    const schedule = await scheduleOf(t, loan.id);
    expectContractAmounts(schedule);
    expect(schedule.instalments[0]?.due_on).toBe(addMonths(utcDate(), 1));
    expect(schedule.instalments.every((row) => row.status === 'upcoming')).toBe(true);
  });

  test('a rejected loan has no schedule: 409 naming why', async () => {
    const loan = await createLoan(t);
    await command(t, loan.id, 'reject', { reason: 'Income could not be verified' });
    const problem = await expectProblem(await t.req(`/api/loans/${loan.id}/schedule`), 409);
    expect(problem.detail).toContain('rejected');
  });

  test.each([
    [{ term_months: undefined }, ['term_months']],
    [{ interest_rate_apr: undefined }, ['interest_rate_apr']],
    [{ term_months: undefined, interest_rate_apr: undefined }, ['term_months', 'interest_rate_apr']],
  ])('a loan without %p has no schedule: 409 naming what it lacks', async (missing, names) => {
    const loan = await createLoan(t, missing);
    const problem = await expectProblem(await t.req(`/api/loans/${loan.id}/schedule`), 409);
    for (const name of names) expect(problem.detail).toContain(name);
  });

  test("another borrower's loan is 404, exactly as a loan that does not exist", async () => {
    const theirs = await createLoan(t); // usr_india_999
    const own = await createLoan(t, { borrower_id: 'usr_kenya_001' });
    const borrower = t.as(devKeys.borrower);
    const hidden = await borrower.req(`/api/loans/${theirs.id}/schedule`);
    await expectProblem(hidden, 404);
    const absent = await borrower.req('/api/loans/00000000-0000-4000-8000-000000000999/schedule');
    await expectProblem(absent, 404);
    expect((await borrower.req(`/api/loans/${own.id}/schedule`)).status).toBe(200);
  });
});

describe('GET /api/loans/:id/schedule after disbursal', () => {
  test('is fixed from disbursed_on: paid, overdue and upcoming, next_due_on the oldest unpaid, even past', async () => {
    const today = utcDate();
    const disbursedOn = addDays(addMonths(today, -2), -3);
    const loan = await disbursedLoan(t, {}, disbursedOn);
    expect(loan.disbursed_on).toBe(disbursedOn);
    const dueOn = [1, 2, 3, 4, 5, 6].map((k) => addMonths(disbursedOn, k));

    const unpaid = await scheduleOf(t, loan.id);
    expectContractAmounts(unpaid);
    expect(unpaid.instalments.map((row) => row.due_on)).toEqual(dueOn);
    expect(unpaid.instalments.map((row) => row.status)).toEqual([
      'overdue',
      'overdue',
      'upcoming',
      'upcoming',
      'upcoming',
      'upcoming',
    ]);
    expect(unpaid.next_due_on).toBe(dueOn[0] as string);
    expect(unpaid.days_past_due).toBe(daysFrom(dueOn[0] as string, today));

    await repay(t, loan.id, { amount: '2142.40' });
    const paidOne = await scheduleOf(t, loan.id);
    expect(paidOne.instalments.map((row) => row.status)).toEqual([
      'paid',
      'overdue',
      'upcoming',
      'upcoming',
      'upcoming',
      'upcoming',
    ]);
    expect(paidOne.instalments[0]).toMatchObject({ paid: '2142.40', outstanding: '0.00' });
    expect(paidOne.next_due_on).toBe(dueOn[1] as string);
    expect(paidOne.days_past_due).toBe(daysFrom(dueOn[1] as string, today));
    expect(paidOne.days_past_due).toBeGreaterThan(0);
    expect(paidOne.totals).toMatchObject({ paid: '2142.40', outstanding: '10711.99' });
    // The amounts are the ones fixed at disbursal, not a projection from today.
    expectContractAmounts(paidOne);
  });

  test('an instalment falling due today is upcoming, not overdue, and not yet past due', async () => {
    const today = utcDate();
    // A disbursal k months ago whose k-th instalment is due today; the earlier ones are paid first.
    let months = 1;
    while (addMonths(addMonths(today, -months), months) !== today) months += 1;
    const loan = await disbursedLoan(t, { term_months: 12 }, addMonths(today, -months));
    const before = await scheduleOf(t, loan.id);
    const earlier = before.instalments.slice(0, months - 1).map((row) => row.total);
    if (earlier.length > 0) await repay(t, loan.id, { amount: sumMoney(earlier) });
    const schedule = await scheduleOf(t, loan.id);
    expect(schedule.instalments[months - 1]).toMatchObject({ due_on: today, status: 'upcoming' });
    expect(schedule.next_due_on).toBe(today);
    expect(schedule.days_past_due).toBe(0);
  });

  test("a disbursal on the 31st falls due on each shorter month's last day", async () => {
    const loan = await disbursedLoan(t, {}, '2024-01-31');
    const schedule = await scheduleOf(t, loan.id);
    expect(schedule.instalments.map((row) => row.due_on)).toEqual([
      '2024-02-29',
      '2024-03-31',
      '2024-04-30',
      '2024-05-31',
      '2024-06-30',
      '2024-07-31',
    ]);
    expect(schedule.instalments.every((row) => row.status === 'overdue')).toBe(true);
    expect(schedule.next_due_on).toBe('2024-02-29');
    expect(schedule.days_past_due).toBe(daysFrom('2024-02-29', utcDate()));
  });

  test('once repaid every instalment is paid, nothing is due and nothing is past due', async () => {
    const loan = await disbursedLoan(t, {}, addMonths(utcDate(), -3));
    await repay(t, loan.id, { amount: '12854.39' });
    const schedule = await scheduleOf(t, loan.id);
    expect(schedule.instalments.every((row) => row.status === 'paid' && row.outstanding === '0.00')).toBe(
      true,
    );
    expect(schedule.totals).toMatchObject({ paid: '12854.39', outstanding: '0.00' });
    expect(schedule.next_due_on).toBeNull();
    expect(schedule.days_past_due).toBe(0);
  });

  test.each([
    ['12000.50', 'INR', 6, '24.00'],
    ['1000.20', 'KES', 7, '10.00'],
    ['333.33', 'NGN', 3, '0'],
    ['0.07', 'PHP', 5, '0.00'],
    ['8400.00', 'VND', 12, '24.00'],
    ['49999.99', 'PHP', 360, '3.50'],
    ['777.77', 'INR', 12, '99.99'],
    ['5000.00', 'KES', 36, '60.00'],
  ])(
    'the principal column of %s %s over %d months at %s %% adds up to the amount exactly',
    async (amount, currency, months, apr) => {
      const loan = await disbursedLoan(t, { amount, currency, term_months: months, interest_rate_apr: apr });
      const schedule = await scheduleOf(t, loan.id);
      expect(schedule.instalments).toHaveLength(months);
      expect(sumMoney(schedule.instalments.map((row) => row.principal))).toBe(loan.amount);
      expect(schedule.totals.principal).toBe(loan.amount);
      expect(sumMoney(schedule.instalments.map((row) => row.interest))).toBe(schedule.totals.interest);
      for (const row of schedule.instalments) {
        expect(cents(row.principal) + cents(row.interest)).toBe(cents(row.total));
        if (row.number < months) expect(row.total).toBe(schedule.instalment_amount);
      }
      expectMoneyEverywhere(schedule);
      if (currency === 'VND') {
        for (const row of schedule.instalments)
          expect([row.principal, row.interest]).toEqual([
            expect.stringMatching(/\.00$/),
            expect.stringMatching(/\.00$/),
          ]);
      }
    },
  );

  test('a 360-month disbursed loan answers its whole schedule', async () => {
    const loan = await disbursedLoan(
      t,
      { amount: '50000.00', term_months: 360, interest_rate_apr: '8.00' },
      '2026-01-31',
    );
    const started = performance.now();
    const response = await t.req(`/api/loans/${loan.id}/schedule`);
    const elapsed = performance.now() - started;
    expect(response.status).toBe(200);
    const schedule = (await response.json()) as LoanSchedule;
    expect(schedule.instalments).toHaveLength(360);
    expect(schedule.instalments.at(-1)?.due_on).toBe('2056-01-31');
    expect(schedule.instalments[0]?.due_on).toBe('2026-02-28');
    expect(sumMoney(schedule.instalments.map((row) => row.principal))).toBe('50000.00');
    expect(elapsed).toBeLessThan(1000);
  });
});

// A zone whose date differs from UTC's now: Kiritimati (UTC+14) from 10:00 UTC, Pago Pago (UTC−11) before 11:00.
const aheadOfUtc = new Date().getUTCHours() >= 10;
const zone = aheadOfUtc
  ? { name: 'Pacific/Kiritimati', offsetHours: 14 }
  : { name: 'Pacific/Pago_Pago', offsetHours: -11 };

describe(`today in the business time zone (${zone.name})`, () => {
  const zoned = useTestApp({ businessTimeZone: zone.name });
  const zoneToday = () => utcDate(0, Date.now() + zone.offsetHours * 3_600_000);
  beforeEach(async () => {
    await resetLoans(zoned.database.db);
  });

  test("projects from the zone's today, and disburses on it by default", async () => {
    expect(zoneToday()).not.toBe(utcDate());
    const loan = await createLoan(zoned);
    const projection = await scheduleOf(zoned, loan.id);
    expect(projection.instalments[0]?.due_on).toBe(addMonths(zoneToday(), 1));
    await command(zoned, loan.id, 'approve');
    const disbursed = await command(zoned, loan.id, 'disburse');
    expect(disbursed.disbursed_on).toBe(zoneToday());
    const schedule = await scheduleOf(zoned, loan.id);
    expect(schedule.instalments[0]?.due_on).toBe(addMonths(zoneToday(), 1));
  });

  test("counts days past due to the zone's today", async () => {
    const disbursedOn = addMonths(addDays(zoneToday(), -10), -1);
    const loan = await disbursedLoan(zoned, {}, disbursedOn);
    const schedule = await scheduleOf(zoned, loan.id);
    expect(schedule.days_past_due).toBe(daysFrom(addMonths(disbursedOn, 1), zoneToday()));
  });
});

test('the contract vectors are what this file expects', () => {
  expect(contractPrincipal).toEqual(['1902.39', '1940.44', '1979.25', '2018.83', '2059.21', '2100.38']);
  expect(sumMoney(contractPrincipal)).toBe(contractLoan.amount);
});
