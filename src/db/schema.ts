import { sql } from 'drizzle-orm';
import {
  char,
  check,
  index,
  integer,
  numeric,
  pgTable,
  text,
  timestamp,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

export const loanStatuses = ['pending', 'approved', 'rejected', 'disbursed', 'repaid', 'defaulted'] as const;
export type LoanStatus = (typeof loanStatuses)[number];

export const MAX_LOAN_AMOUNT = '50000';

// Millisecond precision: what JSON shows is exactly what is stored, so a keyset cursor taken from a response
// can never fall between two rows.
const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3, mode: 'string' })
    .notNull()
    .defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3, mode: 'string' })
    .notNull()
    .defaultNow(),
};

export const loans = pgTable(
  'loans',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    borrowerId: varchar('borrower_id', { length: 128 }).notNull(),
    amount: numeric('amount', { precision: 12, scale: 2 }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    status: text('status', { enum: loanStatuses }).notNull().default('pending'),
    termMonths: integer('term_months'),
    interestRateApr: numeric('interest_rate_apr', { precision: 5, scale: 2 }),
    ...timestamps,
  },
  (table) => [
    check('loans_amount_range', sql`${table.amount} > 0 AND ${table.amount} <= ${sql.raw(MAX_LOAN_AMOUNT)}`),
    check(
      'loans_status_known',
      sql`${table.status} IN (${sql.raw(loanStatuses.map((s) => `'${s}'`).join(', '))})`,
    ),
    check('loans_currency_code', sql`${table.currency} ~ '^[A-Z]{3}$'`),
    check('loans_borrower_id_text', sql`${table.borrowerId} <> '' AND ${table.borrowerId} !~ '[[:cntrl:]]'`),
    check('loans_term_months_range', sql`${table.termMonths} BETWEEN 1 AND 360`),
    check('loans_interest_rate_range', sql`${table.interestRateApr} BETWEEN 0 AND 100`),
    index('loans_newest_first_idx').on(table.createdAt.desc().nullsFirst(), table.id.desc().nullsFirst()),
  ],
);
