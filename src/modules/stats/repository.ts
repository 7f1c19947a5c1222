import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { instalments, type LoanStatus, loanStatuses, loans, loanTotals } from '../../db/schema';
import type { Portfolio, Stats } from './model';

/** Days past due at which the portfolio-at-risk figures count a loan's outstanding principal. */
export const PAR_THRESHOLDS = [1, 30, 90] as const;

// GROUPING(status, currency) tells the three grouping sets apart: 1 = by status, 2 = by currency, 3 = all loans.
const BY_STATUS = 1;
const BY_CURRENCY = 2;

export type StatsRepository = ReturnType<typeof createStatsRepository>;

/** Portfolio statistics, each in one prepared query; every sum and average is computed by Postgres in numeric. */
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

  // One query: per disbursed loan its outstanding principal and oldest unpaid due date, then per currency.
  const perLoan = db
    .select({
      currency: loans.currency,
      outstanding:
        sql<string>`coalesce(sum(${instalments.principal} - ${instalments.paidPrincipal}), ${loans.amount})`.as(
          'outstanding',
        ),
      // A loan disbursed before v2 has no stored schedule yet, and nothing paid: its oldest unpaid instalment is
      // the first, a calendar month after disbursed_on (Postgres clamps to the month's end as the schedule does).
      daysPastDue:
        sql<number>`(${sql.placeholder('today')}::date - coalesce(min(${instalments.dueOn}) FILTER (
        WHERE ${instalments.principal} + ${instalments.interest} > ${instalments.paidPrincipal} + ${instalments.paidInterest}),
        CASE WHEN count(${instalments.number}) = 0 AND ${loans.termMonths} IS NOT NULL
          THEN (${loans.disbursedOn} + interval '1 month')::date END))`.as('days_past_due'),
    })
    .from(loans)
    .leftJoin(instalments, sql`${instalments.loanId} = ${loans.id}`)
    .where(sql`${loans.status} = 'disbursed'`)
    .groupBy(loans.id)
    .as('per_loan');
  const atRisk = (days: number) =>
    sql<string>`coalesce(sum(${perLoan.outstanding}) FILTER (WHERE ${perLoan.daysPastDue} >= ${sql.raw(String(days))}), 0)::numeric(14, 2)::text`;
  const portfolioByCurrency = db
    .select({
      currency: perLoan.currency,
      active_loans: sql<number>`count(*)::int`.mapWith(Number),
      outstanding_principal: sql<string>`sum(${perLoan.outstanding})::numeric(14, 2)::text`,
      par_1: atRisk(PAR_THRESHOLDS[0]),
      par_30: atRisk(PAR_THRESHOLDS[1]),
      par_90: atRisk(PAR_THRESHOLDS[2]),
    })
    .from(perLoan)
    .groupBy(perLoan.currency)
    .orderBy(perLoan.currency)
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
