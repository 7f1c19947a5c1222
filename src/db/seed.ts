import type { Database } from './client';
import { type LoanStatus, loans } from './schema';

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

/** Inserts the sample loans that are missing (by their fixed ids); returns how many it inserted. */
export async function seedSampleLoans(db: Database): Promise<number> {
  const inserted = await db
    .insert(loans)
    .values(sampleLoans)
    .onConflictDoNothing()
    .returning({ id: loans.id });
  return inserted.length;
}

export async function isEmpty(db: Database): Promise<boolean> {
  const any = await db.select({ id: loans.id }).from(loans).limit(1);
  return any.length === 0;
}
