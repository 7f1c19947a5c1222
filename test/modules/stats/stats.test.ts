import { describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import type { Stats } from '../../../src/modules/stats/model';
import { useTestAppWithoutLoans } from '../../support/app';

const t = useTestAppWithoutLoans();

const stats = async (): Promise<Stats> => {
  const response = await t.req('/api/stats');
  expect(response.status).toBe(200);
  return (await response.json()) as Stats;
};

const createLoan = async (amount: string, currency: string) =>
  expect((await t.post('/api/loans', { borrower_id: 'b', amount, currency })).status).toBe(201);

describe('GET /api/stats', () => {
  test('reports zeros and every status for an empty portfolio', async () => {
    expect(await stats()).toEqual({
      total_loans: 0,
      total_amount: '0.00',
      avg_amount: '0.00',
      by_status: { pending: 0, approved: 0, rejected: 0, disbursed: 0, repaid: 0, defaulted: 0 },
      by_currency: {},
      amounts_by_currency: {},
    });
  });

  test('sums and averages exactly, per currency and overall', async () => {
    for (const amount of ['0.10', '0.20', '0.05']) await createLoan(amount, 'INR');
    await createLoan('49999.99', 'KES');
    await createLoan('0.01', 'KES');
    const result = await stats();
    expect(result.total_loans).toBe(5);
    // 0.1 + 0.2 is 0.30000000000000004 as floats; the API must say 0.35 for INR.
    expect(result.amounts_by_currency).toEqual({
      INR: { count: 3, total: '0.35', average: '0.12' },
      KES: { count: 2, total: '50000.00', average: '25000.00' },
    });
    expect(result.total_amount).toBe('50000.35');
    expect(result.avg_amount).toBe('10000.07');
    expect(result.by_currency).toEqual({ INR: 3, KES: 2 });
    expect(result.by_status.pending).toBe(5);
  });

  test('counts loans by status', async () => {
    await t.database.db.execute(
      sql`INSERT INTO loans (borrower_id, amount, currency, status, disbursed_on) VALUES
          ('a', 10, 'USD', 'approved', NULL), ('b', 20, 'USD', 'approved', NULL),
          ('c', 30, 'USD', 'defaulted', '2026-01-15')`,
    );
    const result = await stats();
    expect(result.by_status).toEqual({
      pending: 0,
      approved: 2,
      rejected: 0,
      disbursed: 0,
      repaid: 0,
      defaulted: 1,
    });
    expect(result.amounts_by_currency.USD).toEqual({ count: 3, total: '60.00', average: '20.00' });
  });

  test('rounds an average half away from zero', async () => {
    await createLoan('0.01', 'USD');
    await createLoan('0.02', 'USD');
    expect((await stats()).amounts_by_currency.USD?.average).toBe('0.02');
  });

  test('stays exact over many loans', async () => {
    await t.database.db.execute(
      sql`INSERT INTO loans (borrower_id, amount, currency) SELECT 'b', 0.01 * i, 'USD' FROM generate_series(1, 1000) i`,
    );
    // 0.01 + 0.02 + … + 10.00 = 0.01 × 1000 × 1001 / 2
    expect((await stats()).amounts_by_currency.USD).toEqual({
      count: 1000,
      total: '5005.00',
      average: '5.01',
    });
  });
});
