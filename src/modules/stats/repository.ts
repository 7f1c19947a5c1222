import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { type LoanStatus, loanStatuses, loanTotals, portfolioTotals } from '../../db/schema';
import type { Portfolio, Stats } from './model';

/** Days past due at which the portfolio-at-risk figures count a loan's outstanding principal. */
export const PAR_THRESHOLDS = [1, 30, 90] as const;

// GROUPING(status, currency) tells the three grouping sets apart: 1 = by status, 2 = by currency, 3 = all loans.
const BY_STATUS = 1;
const BY_CURRENCY = 2;

export type StatsRepository = ReturnType<typeof createStatsRepository>;

/**
 * Portfolio statistics, each in one prepared query over the aggregates the triggers keep; every sum and average is
 * computed by Postgres in numeric.
 */
export function createStatsRepository(db: Database) {
  // From the totals the triggers keep (a few rows per key, never a scan of loans); a group whose loans all
  // moved elsewhere sums to zero and is left out, as a scan would leave it out. sum / count is what avg() does.
  const loanCount = sql`sum(${loanTotals.loans})`;
  const totals = db
    .select({
      grouping: sql<number>`grouping(${loanTotals.status}, ${loanTotals.currency})`.mapWith(Number),
      status: loanTotals.status,
      currency: loanTotals.currency,
      count: sql<number>`${loanCount}::int`.mapWith(Number),
      total: sql<string>`round(sum(${loanTotals.amount}), 2)::text`,
      average: sql<string>`round(sum(${loanTotals.amount}) / ${loanCount}, 2)::text`,
    })
    .from(loanTotals)
    .groupBy(sql`GROUPING SETS ((${loanTotals.status}), (${loanTotals.currency}), ())`)
    .having(sql`${loanCount} <> 0`)
    .prepare('loan_stats');

  // From the figures the triggers keep per currency and oldest unpaid due date: a loan is N or more days past
  // due today when that date is N or more days before today.
  const outstanding = sql`sum(${portfolioTotals.outstanding})`;
  const atRisk = (days: number) =>
    sql<string>`coalesce(${outstanding} FILTER (WHERE ${portfolioTotals.oldestUnpaidOn} <= ${sql.placeholder('today')}::date - ${sql.raw(String(days))}), 0)::numeric(14, 2)::text`;
  const portfolioByCurrency = db
    .select({
      currency: portfolioTotals.currency,
      active_loans: sql<number>`sum(${portfolioTotals.loans})::int`.mapWith(Number),
      outstanding_principal: sql<string>`${outstanding}::numeric(14, 2)::text`,
      par_1: atRisk(PAR_THRESHOLDS[0]),
      par_30: atRisk(PAR_THRESHOLDS[1]),
      par_90: atRisk(PAR_THRESHOLDS[2]),
    })
    .from(portfolioTotals)
    .groupBy(portfolioTotals.currency)
    .having(sql`sum(${portfolioTotals.loans}) <> 0`)
    .orderBy(portfolioTotals.currency)
    .prepare('portfolio_at_risk');

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

    /** Portfolio at risk per currency, over disbursed loans only, as of `today` (YYYY-MM-DD). */
    async portfolio(today: string): Promise<Portfolio> {
      const rows = await portfolioByCurrency.execute({ today });
      return Object.fromEntries(rows.map(({ currency, ...figures }) => [currency, figures]));
    },
  };
}
