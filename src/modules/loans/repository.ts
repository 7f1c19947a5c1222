import { desc, eq, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Database } from '../../db/client';
import { loans } from '../../db/schema';
import type { PagePosition } from './cursor';
import type { Loan } from './model';

/** Render a timestamp the way the API shows it, in SQL, so no Date object sits between the row and the JSON. */
const isoUtc = (column: AnyPgColumn) =>
  sql<string>`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// Selected in the order and shape of the JSON a client receives.
const loanColumns = {
  id: loans.id,
  borrower_id: loans.borrowerId,
  amount: loans.amount,
  currency: loans.currency,
  status: loans.status,
  term_months: loans.termMonths,
  interest_rate_apr: loans.interestRateApr,
  created_at: isoUtc(loans.createdAt),
  updated_at: isoUtc(loans.updatedAt),
};

export type NewLoan = {
  borrowerId: string;
  amount: string;
  currency: string;
  termMonths: number | null;
  interestRateApr: string | null;
};

export type LoanRepository = ReturnType<typeof createLoanRepository>;

/** Every loan query, built and prepared once per database. */
export function createLoanRepository(db: Database) {
  const byId = db
    .select(loanColumns)
    .from(loans)
    .where(eq(loans.id, sql.placeholder('id')))
    .prepare('loan_by_id');

  const newestFirst = [desc(loans.createdAt), desc(loans.id)];
  const firstPage = db
    .select(loanColumns)
    .from(loans)
    .orderBy(...newestFirst)
    .limit(sql.placeholder('limit'))
    .prepare('loans_first_page');
  // The timestamp stays text until Postgres reads it, so the driver never rounds it through a JS Date.
  const pageAfter = db
    .select(loanColumns)
    .from(loans)
    .where(
      sql`(${loans.createdAt}, ${loans.id}) < (${sql.placeholder('createdAt')}::text::timestamptz, ${sql.placeholder('id')}::uuid)`,
    )
    .orderBy(...newestFirst)
    .limit(sql.placeholder('limit'))
    .prepare('loans_page_after');

  const insert = db
    .insert(loans)
    .values({
      borrowerId: sql.placeholder('borrowerId'),
      amount: sql.placeholder('amount'),
      currency: sql.placeholder('currency'),
      termMonths: sql.placeholder('termMonths'),
      interestRateApr: sql.placeholder('interestRateApr'),
    })
    .returning(loanColumns)
    .prepare('loan_insert');

  return {
    async findById(id: string): Promise<Loan | undefined> {
      const [loan] = await byId.execute({ id });
      return loan;
    },

    /** Up to `limit` loans, newest first, after `position` when given. */
    list(limit: number, position?: PagePosition): Promise<Loan[]> {
      return position ? pageAfter.execute({ limit, ...position }) : firstPage.execute({ limit });
    },

    async create(loan: NewLoan): Promise<Loan> {
      const [created] = await insert.execute(loan);
      if (!created) throw new Error('INSERT … RETURNING returned no row');
      return created;
    },
  };
}
