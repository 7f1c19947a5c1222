import type { Principal } from '../auth/permissions';
import { businessClock } from '../clock';
import { createLoanRepository } from '../modules/loans/repository';
import { addMonths, scheduleView } from '../modules/loans/schedule';
import { createLoanService } from '../modules/loans/service';
import type { Database } from './client';
import { type LoanStatus, loanEvents, loans, SYSTEM_ACTOR } from './schema';

const sample = (n: number, borrowerId: string, amount: string, currency: string, status: LoanStatus) => ({
  id: `00000000-0000-0000-0000-00000000000${n}`,
  borrowerId,
  amount,
  currency,
  status,
  termMonths: 12,
  interestRateApr: '24.00',
});

export const sampleLoans = [
  sample(1, 'usr_kenya_001', '12500.00', 'KES', 'pending'),
  sample(2, 'usr_india_002', '50000.00', 'INR', 'approved'),
  sample(3, 'usr_nigeria_003', '32000.00', 'NGN', 'rejected'),
  sample(4, 'usr_vietnam_004', '8400.00', 'VND', 'disbursed'),
  sample(5, 'usr_philippines_005', '21000.00', 'PHP', 'repaid'),
];

// The seed acts as the system, with every permission; four-eyes has no say over it.
const seeder: Principal = { actor: SYSTEM_ACTOR, role: 'admin', borrowerId: null };

/**
 * Inserts the sample loans that are missing (by their fixed ids), each with the history its status implies:
 * events, an approval, a disbursal months ago, the repayment that cleared the repaid one. Returns how many.
 */
export async function seedSampleLoans(db: Database): Promise<number> {
  const clock = businessClock('UTC');
  const repository = createLoanRepository(db);
  const service = createLoanService({ loans: repository, clock, fourEyes: false });
  const acting = { principal: seeder, requestId: null };
  const monthsAgo = (months: number) => addMonths(clock.today(), -months);
  let inserted = 0;
  for (const { status, ...loan } of sampleLoans) {
    await db.transaction(async (tx) => {
      const createdAt = `${monthsAgo(4)}T09:00:00.000Z`;
      const [created] = await tx
        .insert(loans)
        .values({ ...loan, createdAt, updatedAt: createdAt })
        .onConflictDoNothing()
        .returning({ id: loans.id });
      if (!created) return;
      inserted += 1;
      await tx.insert(loanEvents).values({
        loanId: loan.id,
        type: 'created',
        fromStatus: null,
        toStatus: 'pending',
        actor: SYSTEM_ACTOR,
        at: createdAt,
      });
      const run = (command: Parameters<typeof service.runCommand>[2], body: object = {}) =>
        service.runCommand(tx, loan.id, command, body, acting);
      if (status === 'rejected') await run('reject', { reason: 'Sample: income could not be verified' });
      if (status === 'pending' || status === 'rejected') return;
      await run('approve', { reason: 'Sample: approved' });
      if (status === 'approved') return;
      await run('disburse', { disbursed_on: monthsAgo(status === 'repaid' ? 3 : 2) });
      if (status === 'repaid') {
        const { totals } = scheduleView(await repository.instalments(loan.id, tx), clock.today());
        await service.repay(tx, loan.id, { amount: totals.outstanding }, acting);
      }
    });
  }
  return inserted;
}

export async function isEmpty(db: Database): Promise<boolean> {
  const any = await db.select({ id: loans.id }).from(loans).limit(1);
  return any.length === 0;
}
