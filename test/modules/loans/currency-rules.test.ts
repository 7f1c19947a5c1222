import { describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import type { Loan } from '../../../src/modules/loans/model';
import { useTestAppWithoutLoans } from '../../support/app';
import {
  command,
  contractLoan,
  createLoan,
  disbursedLoan,
  expectInvalidAt,
  expectProblem,
  scheduleOf,
} from '../../support/lending-handlers';
import { rowsOf } from '../../support/lifecycle';

const t = useTestAppWithoutLoans();

const patch = (id: string, body: unknown) =>
  t.req(`/api/loans/${id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify(body),
  });

async function countLoans(): Promise<number> {
  const [row] = await rowsOf<{ n: number }>(t.database.db, sql`SELECT count(*)::int AS n FROM loans`);
  return Number(row?.n);
}

/** A loan written straight into the table, as data from before these rules could hold it. */
async function insertedLoan(values: { amount: string; currency: string; term: number; apr: string }) {
  const [row] = await rowsOf<{ id: string }>(
    t.database.db,
    sql`INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr)
        VALUES ('usr_legacy_001', ${values.amount}, ${values.currency}, ${values.term}, ${values.apr})
        RETURNING id`,
  );
  return row?.id as string;
}

describe('the currency of a new loan', () => {
  const refused: [string, string, string][] = [
    ['an unknown code', 'ABC', 'is not an active ISO 4217 currency code'],
    ['a withdrawn code', 'VEF', 'is not an active ISO 4217 currency code'],
    ['a fund with four minor units', 'CLF', 'fund code'],
    ['a fund with two minor units', 'BOV', 'fund code'],
    ['a metal', 'XAU', 'no minor unit of its own'],
    ['a unit of account', 'XDR', 'no minor unit of its own'],
    ['the test code', 'XTS', 'no minor unit of its own'],
    ['a three-minor-unit currency', 'KWD', '3 minor units in ISO 4217: not supported'],
    ['another three-minor-unit currency, lower-cased', 'bhd', '3 minor units in ISO 4217: not supported'],
  ];

  test.each(refused)('refuses %s (%s): 422 at /currency naming why', async (_, currency, why) => {
    const response = await t.post('/api/loans', { ...contractLoan, currency });
    const message = await expectInvalidAt(response, '/currency');
    expect(message).toContain(currency.toUpperCase());
    expect(message).toContain(why);
    expect(await countLoans()).toBe(0);
  });

  test.each(['KES', 'INR', 'NGN', 'VND', 'PHP'])(
    'accepts the sample currency %s and lends in it',
    async (currency) => {
      const loan = await disbursedLoan(t, { currency, amount: '8400.00', term_months: 12 });
      expect(loan.currency).toBe(currency);
      const schedule = await scheduleOf(t, loan.id);
      expect(schedule.currency).toBe(currency);
      expect(schedule.totals.principal).toBe('8400.00');
    },
  );

  test.each([
    ['8400.00', 'VND'],
    [8400, 'VND'],
    ['8400', 'VND'],
    ['1000.00', 'JPY'],
  ])('accepts %p in %s, whole in a currency with no minor unit', async (amount, currency) => {
    const loan = await createLoan(t, { amount, currency });
    expect(loan.amount).toBe(`${String(amount).replace('.00', '')}.00`);
  });

  test.each([
    ['8400.50', 'VND'],
    ['8400.5', 'VND'],
    ['0.01', 'VND'],
    ['1000.10', 'JPY'],
  ])('refuses %p in %s: 422 at /amount, naming the currency', async (amount, currency) => {
    const message = await expectInvalidAt(
      await t.post('/api/loans', { ...contractLoan, amount, currency }),
      '/amount',
    );
    expect(message).toContain(currency);
    expect(message).toContain('no minor unit');
    expect(await countLoans()).toBe(0);
  });

  test('PATCH keeps a zero-decimal loan whole, and never changes the currency', async () => {
    const loan = await createLoan(t, { amount: '8400.00', currency: 'VND' });
    expect(await expectInvalidAt(await patch(loan.id, { amount: '8400.50' }), '/amount')).toContain('VND');
    await expectProblem(await patch(loan.id, { currency: 'KWD' }), 422);
    await expectProblem(await patch(loan.id, { currency: 'INR' }), 422);
    const changed = await patch(loan.id, { amount: '9000.00' });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as Loan).amount).toBe('9000.00');
    const kept = (await (await t.req(`/api/loans/${loan.id}`)).json()) as Loan;
    expect(kept).toMatchObject({ currency: 'VND', amount: '9000.00' });
  });
});

describe('terms the schedule rule cannot amortise', () => {
  const unamortisable = { amount: '50000.00', term_months: 360, interest_rate_apr: '36.00' };

  test('are refused at create: 422 at /term_months naming why', async () => {
    const response = await t.post('/api/loans', { ...contractLoan, ...unamortisable });
    const message = await expectInvalidAt(response, '/term_months');
    expect(message).toContain('cannot amortise');
    expect(message).toContain('50000.00');
    expect(message).toContain('36.00');
    expect(await countLoans()).toBe(0);
  });

  test('are refused at PATCH, whichever field makes them so, and the loan stays as it was', async () => {
    const loan = await createLoan(t, { amount: '50000.00', term_months: 360, interest_rate_apr: '8.00' });
    const before = await (await t.req(`/api/loans/${loan.id}`)).text();
    for (const change of [{ interest_rate_apr: '36.00' }, { interest_rate_apr: 36, term_months: 360 }]) {
      expect(await expectInvalidAt(await patch(loan.id, change), '/term_months')).toContain(
        'cannot amortise',
      );
    }
    const short = await createLoan(t, { amount: '50000.00', term_months: 12, interest_rate_apr: '36.00' });
    expect(await expectInvalidAt(await patch(short.id, { term_months: 360 }), '/term_months')).toContain(
      'cannot amortise',
    );
    expect(await (await t.req(`/api/loans/${loan.id}`)).text()).toBe(before);
  });

  test('a loan whose terms became unamortisable is refused at approval (409) and has no schedule (409)', async () => {
    const id = await insertedLoan({ amount: '50000.00', currency: 'INR', term: 360, apr: '36.00' });
    const approval = await t.post(`/api/loans/${id}/approve`, {});
    const problem = await expectProblem(approval, 409);
    expect(problem.detail).toContain('cannot amortise');
    const loan = (await (await t.req(`/api/loans/${id}`)).json()) as Loan;
    expect(loan.status).toBe('pending');
    expect((await expectProblem(await t.req(`/api/loans/${id}/schedule`), 409)).detail).toContain(
      'cannot amortise',
    );
    // Amended into terms that amortise, it is approved.
    expect((await patch(id, { interest_rate_apr: '8.00' })).status).toBe(200);
    expect((await command(t, id, 'approve')).status).toBe('approved');
  });
});

describe('loans stored in what the rules now refuse', () => {
  test.each([
    ['a metal', { amount: '100.00', currency: 'XAU' }, 'XAU'],
    ['a three-minor-unit currency', { amount: '100.00', currency: 'KWD' }, 'KWD'],
    ['an unknown code', { amount: '100.00', currency: 'ABC' }, 'ABC'],
  ])('%s: readable, but no schedule and no command (409)', async (_, values, code) => {
    const id = await insertedLoan({ ...values, term: 6, apr: '24.00' });
    expect((await t.req(`/api/loans/${id}`)).status).toBe(200);
    expect((await expectProblem(await t.req(`/api/loans/${id}/schedule`), 409)).detail).toContain(code);
    expect((await expectProblem(await t.post(`/api/loans/${id}/approve`, {}), 409)).detail).toContain(code);
    expect(await expectInvalidAt(await patch(id, { amount: '200.00' }), '/currency')).toContain(code);
  });

  test('an amount that is not whole in a zero-decimal currency: readable, but no schedule and no approval (409)', async () => {
    const id = await insertedLoan({ amount: '8400.50', currency: 'VND', term: 6, apr: '24.00' });
    expect((await t.req(`/api/loans/${id}`)).status).toBe(200);
    expect((await expectProblem(await t.req(`/api/loans/${id}/schedule`), 409)).detail).toContain('VND');
    expect((await expectProblem(await t.post(`/api/loans/${id}/approve`, {}), 409)).detail).toContain('VND');
    // Amending it whole is the way out.
    expect((await patch(id, { amount: '8400.00' })).status).toBe(200);
    expect((await scheduleOf(t, id)).totals.principal).toBe('8400.00');
  });
});
