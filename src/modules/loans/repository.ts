import { and, asc, desc, eq, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import {
  instalments,
  type LoanEventType,
  type LoanStatus,
  loanEvents,
  loans,
  repayments,
} from '../../db/schema';
import { isoUtc } from '../../db/sql';
import { selectList, statement, type Transaction } from '../../db/statement';
import type { PagePosition } from './cursor';
import type { Loan, LoanEvent, Repayment } from './model';
import type { AllocationPart, Instalment, InstalmentRecord } from './schedule';

// Selected in the order and shape of the JSON a client receives, with the version the ETag carries.
const loanColumns = {
  id: loans.id,
  borrower_id: loans.borrowerId,
  amount: loans.amount,
  currency: loans.currency,
  status: loans.status,
  term_months: loans.termMonths,
  interest_rate_apr: loans.interestRateApr,
  disbursed_on: loans.disbursedOn,
  created_at: isoUtc(loans.createdAt),
  updated_at: isoUtc(loans.updatedAt),
  version: loans.version,
};

/** A loan as a client sees it, and its version. */
export type VersionedLoan = Loan & { version: number };

/** A loan and what an approval's rules read beyond what a client sees: who created and last amended it. */
export type ApprovalFacts = VersionedLoan & { created_by: string; amended_by: string | null };

/** A loan with what the rules need beyond what a client sees: who created, amended and approved it. */
export type LoanState = VersionedLoan & {
  created_by: string;
  amended_by: string | null;
  approved_by: string | null;
};

const approvalColumns = { ...loanColumns, created_by: loans.createdBy, amended_by: loans.amendedBy };
const stateColumns = { ...approvalColumns, approved_by: loans.approvedBy };

const eventColumns = {
  id: loanEvents.id,
  type: loanEvents.type,
  from_status: loanEvents.fromStatus,
  to_status: loanEvents.toStatus,
  actor: loanEvents.actor,
  request_id: loanEvents.requestId,
  reason: loanEvents.reason,
  amount: loanEvents.amount,
  at: isoUtc(loanEvents.at),
};

const instalmentColumns = {
  number: instalments.number,
  dueOn: instalments.dueOn,
  principal: instalments.principal,
  interest: instalments.interest,
  paidPrincipal: instalments.paidPrincipal,
  paidInterest: instalments.paidInterest,
};

const repaymentColumns = {
  id: repayments.id,
  loan_id: repayments.loanId,
  amount: repayments.amount,
  paid_on: repayments.paidOn,
  allocation: sql<AllocationPart[]>`${repayments.allocation}`,
  created_at: isoUtc(repayments.createdAt),
};

/** A repayment as stored: the contract's answer less `outstanding`, which only its response carries. */
export type StoredRepayment = Omit<Repayment, 'outstanding'>;

export interface NewLoan {
  borrowerId: string;
  amount: string;
  currency: string;
  termMonths: number | null;
  interestRateApr: string | null;
  createdBy: string;
}

/** An event as the write that causes it records it, with the loan it belongs to. */
export interface LoanEventFields {
  type: LoanEventType;
  fromStatus: LoanStatus | null;
  toStatus: LoanStatus;
  actor: string;
  requestId: string | null;
  reason?: string | null;
  amount?: string | null;
}

const eventValues = (event: LoanEventFields) => [
  event.type,
  event.fromStatus,
  event.toStatus,
  event.actor,
  event.requestId,
  event.reason ?? null,
  event.amount ?? null,
];

export interface ListFilter {
  status?: LoanStatus;
  borrowerId?: string;
}

export type LoanChanges = Partial<{
  status: LoanStatus;
  amount: string;
  termMonths: number | null;
  interestRateApr: string | null;
  disbursedOn: string | null;
  amendedBy: string;
  approvedBy: string | null;
}>;

export type LoanRepository = ReturnType<typeof createLoanRepository>;

// SQL text built once and prepared by the driver on each connection that runs it: the hot reads, and the writes
// inside a transaction.
const loanList = selectList(loanColumns);
const stateList = selectList(stateColumns);
// A borrower's scope is part of the query itself: another borrower's loan is simply not found.
const byId = statement<VersionedLoan>(`SELECT ${loanList} FROM loans WHERE loans.id = $1`);
const byIdForBorrower = statement<VersionedLoan>(
  `SELECT ${loanList} FROM loans WHERE loans.id = $1 AND loans.borrower_id = $2`,
);
const lockById = statement<LoanState>(`SELECT ${stateList} FROM loans WHERE loans.id = $1 FOR UPDATE`);
const lockByIdForBorrower = statement<LoanState>(
  `SELECT ${stateList} FROM loans WHERE loans.id = $1 AND loans.borrower_id = $2 FOR UPDATE`,
);
const instalmentList = selectList(instalmentColumns);
const instalmentsIn = statement<InstalmentRecord>(
  `SELECT ${instalmentList} FROM instalments WHERE instalments.loan_id = $1 ORDER BY instalments.number`,
);
// One row per instalment (or a single row of nulls, `number` included, when there is none), each with the latest
// repayment's date. A statement of its own, not a column of the lock: a statement that waited for the lock still
// reads other tables as they were when it began, and would miss the repayment its predecessor committed.
const LATEST_PAID_ON = 'SELECT max(paid_on)::text AS paid_on FROM repayments WHERE loan_id = $1';
const instalmentsWithLastPayment = statement<InstalmentRecord & { last_paid_on: string | null }>(
  `SELECT latest.paid_on AS last_paid_on, ${instalmentList}
  FROM (${LATEST_PAID_ON}) AS latest
  LEFT JOIN instalments ON instalments.loan_id = $1
  ORDER BY instalments.number`,
);

/** Appends the event of the loan the CTE `written` returns; the event's parameters start at `$first`. */
const eventInsert = (first: number) => {
  const [type, from, to, actor, requestId, reason, amount] = Array.from(
    { length: 7 },
    (_, i) => `$${first + i}`,
  );
  return `INSERT INTO loan_events (loan_id, type, from_status, to_status, actor, request_id, reason, amount)
    SELECT written.id, ${type}::text, ${from}::text, ${to}::text, ${actor}::text, ${requestId}::text,
      ${reason}::text, ${amount}::numeric FROM written`;
};

const insertWithEvent = statement<VersionedLoan>(
  `WITH written AS (
    INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr, created_by)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${loanList}
  ), event AS (${eventInsert(7)})
  SELECT * FROM written`,
);

const deleteSchedule = statement('DELETE FROM instalments WHERE loan_id = $1');
const latestPaidOn = statement<{ paid_on: string | null }>(LATEST_PAID_ON);
// The repayment and what its allocation adds to each instalment, in one statement.
const insertRepayment = statement<StoredRepayment>(
  `WITH paid AS (
    UPDATE instalments SET paid_interest = instalments.paid_interest + part.interest,
      paid_principal = instalments.paid_principal + part.principal
    FROM jsonb_to_recordset($4::jsonb) AS part(number smallint, interest numeric, principal numeric)
    WHERE instalments.loan_id = $1 AND instalments.number = part.number
  )
  INSERT INTO repayments (loan_id, amount, paid_on, allocation, actor) VALUES ($1, $2, $3, $4::jsonb, $5)
  RETURNING ${selectList(repaymentColumns)}`,
);

/**
 * Which loan an update may change besides the id and the status it must be in: the version the writer read
 * (answering the loan as a client sees it), or, when nothing was read, the borrower's scope (answering also what
 * an approval's rules check afterwards).
 */
const updateGuards = {
  version: { condition: 'loans.version = $3', returning: loanList },
  unread: {
    condition: '($3::text IS NULL OR loans.borrower_id = $3)',
    returning: selectList(approvalColumns),
  },
};

// One statement per guard and set of changed columns; commands change few combinations.
const updatesWithEvent = new Map<string, ReturnType<typeof statement>>();
async function updateWithEvent<Row>(
  tx: Transaction,
  guard: keyof typeof updateGuards,
  expected: { id: string; status: LoanStatus; guardValue: unknown },
  changes: LoanChanges,
  event: LoanEventFields,
): Promise<Row | undefined> {
  const fields = Object.keys(changes) as (keyof LoanChanges)[];
  const key = `${guard}:${fields.join()}`;
  let prepared = updatesWithEvent.get(key);
  if (!prepared) {
    const { condition, returning } = updateGuards[guard];
    const set = fields.map((field, i) => `${loans[field].name} = $${11 + i}`);
    prepared = statement(
      `WITH written AS (
        UPDATE loans SET ${[...set, 'version = loans.version + 1'].join(', ')}
        WHERE loans.id = $1 AND loans.status = $2 AND ${condition} RETURNING ${returning}
      ), event AS (${eventInsert(4)})
      SELECT * FROM written`,
    );
    updatesWithEvent.set(key, prepared);
  }
  const [updated] = await prepared(
    tx,
    expected.id,
    expected.status,
    expected.guardValue,
    ...eventValues(event),
    ...fields.map((field) => changes[field]),
  );
  return updated as Row | undefined;
}

/** Every loan query; the reads on the request path are prepared once per database. */
export function createLoanRepository(db: Database) {
  // One prepared query per combination of filters and first page or next, each served by its own index.
  const pages = new Map<string, ReturnType<typeof preparePage>>();
  function preparePage(filter: ListFilter, after: boolean) {
    const conditions: SQL[] = [];
    if (filter.status) conditions.push(sql`${loans.status} = ${sql.placeholder('status')}`);
    if (filter.borrowerId) conditions.push(sql`${loans.borrowerId} = ${sql.placeholder('borrowerId')}`);
    // The timestamp stays text until Postgres reads it, so the driver never rounds it through a JS Date.
    if (after) {
      conditions.push(
        sql`(${loans.createdAt}, ${loans.id}) < (${sql.placeholder('createdAt')}::text::timestamptz, ${sql.placeholder('id')}::uuid)`,
      );
    }
    const name = `loans_page_${filter.status ? 's' : ''}${filter.borrowerId ? 'b' : ''}${after ? '_after' : ''}`;
    return db
      .select(loanColumns)
      .from(loans)
      .where(and(...conditions))
      .orderBy(desc(loans.createdAt), desc(loans.id))
      .limit(sql.placeholder('limit'))
      .prepare(name);
  }
  function page(filter: ListFilter, after: boolean) {
    const key = `${filter.status !== undefined}${filter.borrowerId !== undefined}${after}`;
    let prepared = pages.get(key);
    if (!prepared) {
      prepared = preparePage(filter, after);
      pages.set(key, prepared);
    }
    return prepared;
  }

  const instalmentsOf = db
    .select(instalmentColumns)
    .from(instalments)
    .where(eq(instalments.loanId, sql.placeholder('loanId')))
    .orderBy(asc(instalments.number))
    .prepare('instalments_of');
  const repaymentsOf = db
    .select(repaymentColumns)
    .from(repayments)
    .where(eq(repayments.loanId, sql.placeholder('loanId')))
    .orderBy(asc(repayments.createdAt), asc(repayments.id))
    .prepare('repayments_of');

  const eventsOf = db
    .select(eventColumns)
    .from(loanEvents)
    .where(eq(loanEvents.loanId, sql.placeholder('loanId')))
    .orderBy(asc(loanEvents.id))
    .prepare('loan_events_of');

  return {
    /** The loan, if it exists and `borrowerId` (when given) owns it. */
    async find(id: string, borrowerId: string | null): Promise<VersionedLoan | undefined> {
      const [loan] = borrowerId === null ? await byId(db, id) : await byIdForBorrower(db, id, borrowerId);
      return loan;
    },

    /** Up to `limit` loans matching the filter, newest first, after `position` when given. */
    list(limit: number, filter: ListFilter, position?: PagePosition): Promise<VersionedLoan[]> {
      return page(filter, position !== undefined).execute({ limit, ...filter, ...position });
    },

    events(loanId: string): Promise<LoanEvent[]> {
      return eventsOf.execute({ loanId });
    },

    /** The loan, locked until the transaction ends: commands, amendments and repayments on it take turns. */
    async lock(tx: Transaction, id: string, borrowerId: string | null): Promise<LoanState | undefined> {
      const [loan] =
        borrowerId === null ? await lockById(tx, id) : await lockByIdForBorrower(tx, id, borrowerId);
      return loan;
    },

    /** Inserts the loan and the event of its creation, in one statement. */
    async insert(tx: Transaction, loan: NewLoan, event: LoanEventFields): Promise<VersionedLoan> {
      const [created] = await insertWithEvent(
        tx,
        loan.borrowerId,
        loan.amount,
        loan.currency,
        loan.termMonths,
        loan.interestRateApr,
        loan.createdBy,
        ...eventValues(event),
      );
      if (!created) throw new Error('INSERT … RETURNING returned no row');
      return created;
    },

    /**
     * Applies the changes, bumps the version and appends the event, in one statement, only if the loan is still
     * in `status` at `version`; undefined (and no event) when it is not (another writer got there first).
     */
    async update(
      tx: Transaction,
      id: string,
      expected: { status: LoanStatus; version: number },
      changes: LoanChanges,
      event: LoanEventFields,
    ): Promise<VersionedLoan | undefined> {
      const guarded = { id, status: expected.status, guardValue: expected.version };
      return updateWithEvent<VersionedLoan>(tx, 'version', guarded, changes, event);
    },

    /**
     * As `update`, for a writer that has not read the loan: only if it is in `status` and, when `borrowerId` is
     * given, that borrower's.
     */
    async updateUnread(
      tx: Transaction,
      id: string,
      expected: { status: LoanStatus; borrowerId: string | null },
      changes: LoanChanges,
      event: LoanEventFields,
    ): Promise<ApprovalFacts | undefined> {
      const guarded = { id, status: expected.status, guardValue: expected.borrowerId };
      return updateWithEvent<ApprovalFacts>(tx, 'unread', guarded, changes, event);
    },

    /** What a repayment is checked and allocated against: the stored schedule, and the latest repayment's date. */
    async repaymentBasis(
      tx: Transaction,
      loanId: string,
    ): Promise<{ instalments: InstalmentRecord[]; lastPaidOn: string | null }> {
      const rows = await instalmentsWithLastPayment(tx, loanId);
      const instalments: InstalmentRecord[] = [];
      for (const { last_paid_on, ...instalment } of rows) {
        if (instalment.number !== null) instalments.push(instalment);
      }
      return { instalments, lastPaidOn: rows[0]?.last_paid_on ?? null };
    },

    /** The stored schedule with what has been paid of each instalment; inside a transaction, `tx`. */
    instalments(loanId: string, tx?: Transaction): Promise<InstalmentRecord[]> {
      return tx ? instalmentsIn(tx, loanId) : instalmentsOf.execute({ loanId });
    },

    async fixSchedule(tx: Transaction, loanId: string, schedule: readonly Instalment[]): Promise<void> {
      await tx.insert(instalments).values(
        schedule.map(({ number, dueOn, principal, interest }) => ({
          loanId,
          number,
          dueOn,
          principal,
          interest,
        })),
      );
    },

    async discardSchedule(tx: Transaction, loanId: string): Promise<void> {
      await deleteSchedule(tx, loanId);
    },

    repayments(loanId: string): Promise<StoredRepayment[]> {
      return repaymentsOf.execute({ loanId });
    },

    async repayment(loanId: string, id: string): Promise<StoredRepayment | undefined> {
      const [found] = await db
        .select(repaymentColumns)
        .from(repayments)
        .where(and(eq(repayments.loanId, loanId), eq(repayments.id, id)));
      return found;
    },

    /** The latest repayment's date, or null when there is none. */
    async lastPaidOn(tx: Transaction, loanId: string): Promise<string | null> {
      const [row] = await latestPaidOn(tx, loanId);
      return row?.paid_on ?? null;
    },

    async insertRepayment(
      tx: Transaction,
      repayment: {
        loanId: string;
        amount: string;
        paidOn: string;
        allocation: AllocationPart[];
        actor: string;
      },
    ): Promise<StoredRepayment> {
      const [created] = await insertRepayment(
        tx,
        repayment.loanId,
        repayment.amount,
        repayment.paidOn,
        JSON.stringify(repayment.allocation),
        repayment.actor,
      );
      if (!created) throw new Error('INSERT … RETURNING returned no row');
      return created;
    },
  };
}
