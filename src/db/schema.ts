import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  char,
  check,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

export const loanStatuses = ['pending', 'approved', 'rejected', 'disbursed', 'repaid', 'defaulted'] as const;
export type LoanStatus = (typeof loanStatuses)[number];

export const roles = ['borrower', 'officer', 'admin'] as const;
export type Role = (typeof roles)[number];

export const loanEventTypes = [
  'created',
  'amended',
  'approved',
  'rejected',
  'approval_undone',
  'disbursed',
  'disbursal_undone',
  'repayment',
  'repaid',
  'written_off',
] as const;
export type LoanEventType = (typeof loanEventTypes)[number];

/** The actor of what the database itself did (a migration's backfill). */
export const SYSTEM_ACTOR = 'system';

export const MAX_LOAN_AMOUNT = '50000';
export const MAX_TERM_MONTHS = 360;
export const MAX_INTEREST_RATE_APR = 100;

const inList = (values: readonly string[]) => sql.raw(values.map((value) => `'${value}'`).join(', '));
const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'string' });
const money = (name: string) => numeric(name, { precision: 12, scale: 2 });

// Millisecond precision: what JSON shows is exactly what is stored, so a keyset cursor taken from a response
// can never fall between two rows.
const timestamps = {
  createdAt: instant('created_at').notNull().defaultNow(),
  updatedAt: instant('updated_at').notNull().defaultNow(),
};

export const loans = pgTable(
  'loans',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    borrowerId: varchar('borrower_id', { length: 128 }).notNull(),
    amount: money('amount').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    status: text('status', { enum: loanStatuses }).notNull().default('pending'),
    termMonths: integer('term_months'),
    interestRateApr: numeric('interest_rate_apr', { precision: 5, scale: 2 }),
    /** Goes up on every change of the loan, its schedule or its repayments: the ETag. */
    version: integer('version').notNull().default(1),
    disbursedOn: date('disbursed_on', { mode: 'string' }),
    /** Actors (an API key's id or `jwt:<sub>`) the four-eyes rule compares. */
    createdBy: text('created_by').notNull().default(SYSTEM_ACTOR),
    amendedBy: text('amended_by'),
    approvedBy: text('approved_by'),
    ...timestamps,
  },
  (table) => [
    check('loans_amount_range', sql`${table.amount} > 0 AND ${table.amount} <= ${sql.raw(MAX_LOAN_AMOUNT)}`),
    check('loans_status_known', sql`${table.status} IN (${inList(loanStatuses)})`),
    check('loans_currency_code', sql`${table.currency} ~ '^[A-Z]{3}$'`),
    check('loans_borrower_id_text', sql`${table.borrowerId} <> '' AND ${table.borrowerId} !~ '[[:cntrl:]]'`),
    check(
      'loans_term_months_range',
      sql`${table.termMonths} BETWEEN 1 AND ${sql.raw(String(MAX_TERM_MONTHS))}`,
    ),
    check(
      'loans_interest_rate_range',
      sql`${table.interestRateApr} BETWEEN 0 AND ${sql.raw(String(MAX_INTEREST_RATE_APR))}`,
    ),
    check(
      'loans_disbursed_on_with_status',
      sql`(${table.status} IN ('disbursed', 'repaid', 'defaulted')) = (${table.disbursedOn} IS NOT NULL)`,
    ),
    index('loans_newest_first_idx').on(table.createdAt.desc().nullsFirst(), table.id.desc().nullsFirst()),
    // The list's filters keep the keyset: each index ends in the page order.
    index('loans_status_newest_first_idx').on(table.status, table.createdAt.desc(), table.id.desc()),
    index('loans_borrower_newest_first_idx').on(table.borrowerId, table.createdAt.desc(), table.id.desc()),
  ],
);

/**
 * GET /api/stats without a scan: per status and currency, how many loans and the sum of their amounts, kept
 * exact by statement triggers on loans (drizzle/0003_stats_aggregates.sql, docs/decisions/0006). Each key is
 * spread over slots, chosen by the writer's backend, so concurrent writers do not queue on one row lock; a read
 * sums the slots. Only the triggers write it; a slot's own figures mean nothing (they may be negative).
 */
export const loanTotals = pgTable(
  'loan_totals',
  {
    status: text('status', { enum: loanStatuses }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    slot: smallint('slot').notNull(),
    loans: bigint('loans', { mode: 'number' }).notNull(),
    amount: numeric('amount').notNull(),
  },
  (table) => [primaryKey({ columns: [table.status, table.currency, table.slot] })],
);

/**
 * The portfolio at risk without a scan: what each disbursed loan counts (its outstanding principal, and the due
 * date of its oldest unpaid instalment, `infinity` when nothing will fall due) and those figures summed per
 * currency and date, over slots as in loan_totals. Kept by statement triggers on loans and instalments
 * (drizzle/0004_portfolio_aggregates.sql); a loan `N` or more days past due on a date is one whose oldest unpaid
 * instalment fell due `N` or more days before it, so each PAR figure is a sum over dates.
 */
export const portfolioLoans = pgTable('portfolio_loans', {
  loanId: uuid('loan_id').primaryKey(),
  currency: char('currency', { length: 3 }).notNull(),
  oldestUnpaidOn: date('oldest_unpaid_on', { mode: 'string' }).notNull(),
  outstanding: numeric('outstanding').notNull(),
});

export const portfolioTotals = pgTable(
  'portfolio_totals',
  {
    currency: char('currency', { length: 3 }).notNull(),
    oldestUnpaidOn: date('oldest_unpaid_on', { mode: 'string' }).notNull(),
    slot: smallint('slot').notNull(),
    loans: bigint('loans', { mode: 'number' }).notNull(),
    outstanding: numeric('outstanding').notNull(),
  },
  (table) => [primaryKey({ columns: [table.currency, table.oldestUnpaidOn, table.slot] })],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    role: text('role', { enum: roles }).notNull(),
    borrowerId: varchar('borrower_id', { length: 128 }),
    /** SHA-256 of the key, hex; the key itself is never stored. */
    keyHash: char('key_hash', { length: 64 }).notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    expiresAt: instant('expires_at'),
    revokedAt: instant('revoked_at'),
  },
  (table) => [
    uniqueIndex('api_keys_key_hash_idx').on(table.keyHash),
    check('api_keys_role_known', sql`${table.role} IN (${inList(roles)})`),
    check(
      'api_keys_borrower_matches_role',
      sql`(${table.role} = 'borrower') = (${table.borrowerId} IS NOT NULL)`,
    ),
    check('api_keys_name_length', sql`char_length(${table.name}) BETWEEN 1 AND 100`),
  ],
);

/** The audit trail: append-only (triggers refuse UPDATE, DELETE and TRUNCATE), ordered by `id`. */
export const loanEvents = pgTable(
  'loan_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    loanId: uuid('loan_id')
      .notNull()
      .references(() => loans.id),
    type: text('type', { enum: loanEventTypes }).notNull(),
    fromStatus: text('from_status', { enum: loanStatuses }),
    toStatus: text('to_status', { enum: loanStatuses }).notNull(),
    actor: text('actor').notNull(),
    requestId: text('request_id'),
    reason: text('reason'),
    amount: money('amount'),
    at: instant('at').notNull().defaultNow(),
  },
  (table) => [
    index('loan_events_loan_idx').on(table.loanId, table.id),
    check('loan_events_type_known', sql`${table.type} IN (${inList(loanEventTypes)})`),
  ],
);

/** The schedule fixed at disbursal: one row per instalment, with what repayments have paid of it. */
export const instalments = pgTable(
  'instalments',
  {
    loanId: uuid('loan_id')
      .notNull()
      .references(() => loans.id),
    number: smallint('number').notNull(),
    dueOn: date('due_on', { mode: 'string' }).notNull(),
    principal: money('principal').notNull(),
    interest: money('interest').notNull(),
    paidPrincipal: money('paid_principal').notNull().default('0'),
    paidInterest: money('paid_interest').notNull().default('0'),
  },
  (table) => [
    primaryKey({ columns: [table.loanId, table.number] }),
    check(
      'instalments_paid_within_due',
      sql`${table.paidPrincipal} BETWEEN 0 AND ${table.principal} AND ${table.paidInterest} BETWEEN 0 AND ${table.interest}`,
    ),
  ],
);

export const repayments = pgTable(
  'repayments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    loanId: uuid('loan_id')
      .notNull()
      .references(() => loans.id),
    amount: money('amount').notNull(),
    paidOn: date('paid_on', { mode: 'string' }).notNull(),
    /** [{ number, interest, principal }]: how the amount was spread over the instalments. */
    allocation: jsonb('allocation').notNull(),
    actor: text('actor').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (table) => [
    index('repayments_loan_idx').on(table.loanId, table.createdAt, table.id),
    check('repayments_amount_positive', sql`${table.amount} > 0`),
  ],
);

/**
 * Idempotency-Key records, per credential: claimed when a request starts, completed with the response in the
 * transaction of its effect, deleted when the request fails. Swept after 24 hours.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    actor: text('actor').notNull(),
    key: text('key').notNull(),
    /** SHA-256 of method, path and the raw body bytes. */
    fingerprint: char('fingerprint', { length: 64 }).notNull(),
    status: smallint('status'),
    body: text('body'),
    headers: jsonb('headers').$type<Record<string, string>>(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.actor, table.key] }),
    index('idempotency_keys_created_idx').on(table.createdAt),
  ],
);
