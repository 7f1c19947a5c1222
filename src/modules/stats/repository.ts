import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { type LoanStatus, loanStatuses, loans } from '../../db/schema';
import type { Stats } from './model';

// GROUPING(status, currency) tells the three grouping sets apart: 1 = by status, 2 = by currency, 3 = all loans.
const BY_STATUS = 1;
const BY_CURRENCY = 2;

export type StatsRepository = ReturnType<typeof createStatsRepository>;

/** Portfolio statistics in one prepared query; every sum and average is computed by Postgres in numeric. */
export function createStatsRepository(db: Database) {
  const totals = db
    .select({
      grouping: sql<number>`grouping(${loans.status}, ${loans.currency})`.mapWith(Number),
      status: loans.status,
      currency: loans.currency,
      count: sql<number>`count(*)::int`.mapWith(Number),
      total: sql<string>`round(coalesce(sum(${loans.amount}), 0), 2)::text`,
      average: sql<string>`round(coalesce(avg(${loans.amount}), 0), 2)::text`,
    })
    .from(loans)
    .groupBy(sql`GROUPING SETS ((${loans.status}), (${loans.currency}), ())`)
    .prepare('loan_stats');

  return {
    async read(): Promise<Stats> {
      const stats: Stats = {
        total_loans: 0,
        total_amount: '0.00',
        avg_amount: '0.00',
        by_status: Object.fromEntries(loanStatuses.map((status) => [status, 0])) as Record<
          LoanStatus,
          number
        >,
        by_currency: {},
        amounts_by_currency: {},
      };
      for (const row of await totals.execute()) {
        if (row.grouping === BY_STATUS) {
          stats.by_status[row.status] = row.count;
        } else if (row.grouping === BY_CURRENCY) {
          stats.by_currency[row.currency] = row.count;
          stats.amounts_by_currency[row.currency] = {
            count: row.count,
            total: row.total,
            average: row.average,
          };
        } else {
          Object.assign(stats, { total_loans: row.count, total_amount: row.total, avg_amount: row.average });
        }
      }
      return stats;
    },
  };
}
