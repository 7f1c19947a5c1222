import { expect, test } from 'bun:test';
import { isEmpty, sampleLoans, seedSampleLoans } from '../../src/db/seed';
import { useTestApp } from '../support/app';

const t = useTestApp();

test('seeding inserts the five sample loans once, however often it runs', async () => {
  expect(await isEmpty(t.database.db)).toBeTrue();
  expect(await seedSampleLoans(t.database.db)).toBe(5);
  expect(await seedSampleLoans(t.database.db)).toBe(0);
  expect(await isEmpty(t.database.db)).toBeFalse();

  const response = await t.req('/api/loans/00000000-0000-0000-0000-000000000002');
  expect(await response.json()).toMatchObject({
    borrower_id: 'usr_india_002',
    amount: '50000.00',
    currency: 'INR',
    status: 'approved',
  });
  const stats = (await (await t.req('/api/stats')).json()) as { total_loans: number; by_status: object };
  expect(stats.total_loans).toBe(sampleLoans.length);
  expect(stats.by_status).toMatchObject({ pending: 1, approved: 1, rejected: 1, disbursed: 1, repaid: 1 });
});
