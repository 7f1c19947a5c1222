import { expect, test } from 'bun:test';
import type { Principal } from '../../../src/auth/permissions';
import type { LoanSchedule } from '../../../src/modules/loans/model';
import { createLoanRepository } from '../../../src/modules/loans/repository';
import { createLoanService } from '../../../src/modules/loans/service';
import { useTestApp } from '../../support/app';

const t = useTestApp();
const officer: Principal = { actor: 'officer-under-test', role: 'officer', borrowerId: null };

test('a kept schedule answer is never served for another version of the loan or another day', async () => {
  let today = '2026-03-01';
  const service = createLoanService({
    loans: createLoanRepository(t.database.db),
    clock: { today: () => today },
    fourEyes: false,
  });
  const acting = { principal: officer, requestId: null };
  const { db } = t.database;
  const loan = await db.transaction((tx) =>
    service.create(
      tx,
      {
        borrower_id: 'usr_kept',
        amount: '1200.00',
        currency: 'KES',
        term_months: 3,
        interest_rate_apr: '12.00',
      },
      acting,
    ),
  );
  for (const command of ['approve', 'disburse'] as const) {
    await db.transaction((tx) => service.runCommand(tx, loan.id, command, {}, acting));
  }
  const schedule = async () => JSON.parse(await service.scheduleJson(loan.id, officer)) as LoanSchedule;

  const first = await schedule();
  expect(first.instalments.map((instalment) => instalment.status)).toEqual([
    'upcoming',
    'upcoming',
    'upcoming',
  ]);
  expect(await schedule()).toEqual(first);

  today = '2026-04-15'; // the first instalment fell due on 2026-04-01
  const later = await schedule();
  expect(later.instalments[0]?.status).toBe('overdue');
  expect(later.days_past_due).toBe(14);

  await db.transaction((tx) =>
    service.repay(tx, loan.id, { amount: later.instalments[0]?.total as string }, acting),
  );
  const repaid = await schedule();
  expect(repaid.instalments[0]?.status).toBe('paid');
  expect(repaid.totals.paid).toBe(later.instalments[0]?.total as string);
});
