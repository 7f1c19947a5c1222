import { borrowerScope, may, type Principal } from '../../auth/permissions';
import { authorize } from '../../auth/plugin';
import type { Clock } from '../../clock';
import type { LoanEventType, LoanStatus } from '../../db/schema';
import type { Transaction } from '../../db/statement';
import type { LendingCounters } from '../../http/metrics';
import { Problem } from '../../http/problem';
import { bodyRules } from '../../http/validation';
import { RecentMap } from '../../recent';
import { type CurrencyRule, currencyRule, fitsMinorUnits } from './currency';
import type { PagePosition } from './cursor';
import { type CommandName, commandsFrom, type Transition, transitions } from './lifecycle';
import { LoanModel, type LoanSchedule, type Repayment } from './model';
import { decimalText, toHundredths } from './money';
import type {
  ApprovalFacts,
  ListFilter,
  LoanChanges,
  LoanEventFields,
  LoanRepository,
  LoanState,
  VersionedLoan,
} from './repository';
import {
  allocate,
  buildSchedule,
  type InstalmentRecord,
  instalmentAmount,
  isCalendarDate,
  type LoanTerms,
  scheduleProblem,
  scheduleView,
  unpaid,
  writeOffAmount,
} from './schedule';

export interface LoanServiceOptions {
  loans: LoanRepository;
  clock: Clock;
  fourEyes: boolean;
  counters?: LendingCounters;
}

/** Who acts and on which request: what every write records. */
export interface Acting {
  principal: Principal;
  requestId: string | null;
  /** The If-Match precondition, when the request sent one: true when it matches this version. */
  matches?: (version: number) => boolean;
}

export type LoanService = ReturnType<typeof createLoanService>;

// A 360-month answer is about 60 KB: 200 of them stay well within the memory budget.
const SCHEDULE_ANSWERS_KEPT = 200;

const createRules = bodyRules(LoanModel.createLoan);
const patchRules = bodyRules(LoanModel.patchLoan);
const repaymentRules = bodyRules(LoanModel.createRepayment);
const commandRules = {
  'optional-reason': bodyRules(LoanModel.reasonOptional, { emptyAs: {} }),
  'required-reason': bodyRules(LoanModel.reasonRequired, { emptyAs: {} }),
  disbursal: bodyRules(LoanModel.disbursal, { emptyAs: {} }),
};

/** Commands whose change and event follow from the request alone: `runUnread` applies them before reading. */
const DECIDED_BY_REQUEST: ReadonlySet<CommandName> = new Set(['approve', 'undo-approval', 'reject']);

/** What a write records of its event, beside who acted and from which status (none for a creation). */
interface RecordedEvent {
  type: LoanEventType;
  to: LoanStatus;
  reason?: string | null;
  amount?: string | null;
}

const eventFields = (from: LoanStatus | null, acting: Acting, event: RecordedEvent): LoanEventFields => ({
  type: event.type,
  fromStatus: from,
  toStatus: event.to,
  actor: acting.principal.actor,
  requestId: acting.requestId,
  reason: event.reason ?? null,
  amount: event.amount ?? null,
});

const invalid = (path: string, message: string) =>
  new Problem(422, `The request body breaks 1 rule: ${message}.`, { errors: [{ path, message }] });

const notFound = (id: string) => new Problem(404, `No loan has the id ${id}.`);

const conflict = (detail: string) => new Problem(409, detail);

function invalidTransition(loan: { status: LoanStatus }, command: string): Problem {
  const allowed = commandsFrom(loan.status);
  return new Problem(
    409,
    `The loan is ${loan.status}, which does not allow ${command}; ` +
      (allowed.length > 0 ? `it allows ${allowed.join(', ')}.` : 'it allows no command.'),
    { kind: { slug: 'invalid-transition', title: 'Invalid transition' } },
  );
}

/** The currency of a loan as stored: supported, or the reason it is not. */
function supportedCurrency(code: string): CurrencyRule {
  const rule = currencyRule(code);
  if ('refusal' in rule) throw conflict(`This loan's currency cannot be lent in: ${rule.refusal}.`);
  return rule;
}

/** The schedule rule's verdict on these terms, or null when the loan lacks a term or a rate. */
function termsOf(
  loan: { amount: string; term_months: number | null; interest_rate_apr: string | null },
  rule: CurrencyRule,
) {
  if (loan.term_months === null || loan.interest_rate_apr === null) return null;
  return {
    principal: loan.amount,
    aprPercent: loan.interest_rate_apr,
    termMonths: loan.term_months,
    minorUnits: rule.minorUnits,
  };
}

/**
 * The loan's terms when the schedule rule can amortise them, else a 409 naming why: create and PATCH refuse such
 * terms, but a loan stored before the rules (or through SQL) may hold them.
 */
function amortisableTerms(
  loan: { amount: string; currency: string; term_months: number | null; interest_rate_apr: string | null },
  rule: CurrencyRule,
): LoanTerms {
  const terms = termsOf(loan, rule);
  if (!terms) throw conflict(`The loan has no schedule until it has ${missingTerms(loan).join(' and ')}.`);
  const problem = fitsMinorUnits(terms.principal, rule.minorUnits)
    ? scheduleProblem(terms)
    : `${loan.amount} is not a whole amount in ${loan.currency}, which has no minor unit`;
  if (problem) throw conflict(`The loan's terms cannot be amortised: ${problem}.`);
  return terms;
}

const sameDecimal = (a: string | null, b: string | null) =>
  a === null || b === null ? a === b : toHundredths(a) === toHundredths(b);

const missingTerms = (loan: { term_months: number | null; interest_rate_apr: string | null }) =>
  [loan.term_months === null && 'term_months', loan.interest_rate_apr === null && 'interest_rate_apr'].filter(
    Boolean,
  ) as string[];

/**
 * The lending rules: creating and amending loans, the lifecycle commands, schedules and repayments. Plain
 * functions over the repository; every write runs inside the caller's transaction and throws a Problem when a
 * rule says no, in the contract's order (404, 403, 412, 422, 409, four-eyes 403, state-dependent 422).
 */
export function createLoanService({ loans, clock, fourEyes, counters }: LoanServiceOptions) {
  // Schedule answers by loan, version and business date.
  const scheduleAnswers = new RecentMap<string>(SCHEDULE_ANSWERS_KEPT);

  /** The loan the principal may see, locked for the transaction; 404 for another borrower's as for none. */
  async function lockVisible(tx: Transaction, id: string, principal: Principal): Promise<LoanState> {
    const loan = await loans.lock(tx, id, borrowerScope(principal));
    if (!loan) throw notFound(id);
    return loan;
  }

  function checkPrecondition(acting: Acting, loan: { version: number }) {
    if (acting.matches && !acting.matches(loan.version)) {
      throw new Problem(412, `If-Match does not match the loan's current ETag "${loan.version}".`);
    }
  }

  /** Applies a status change (or an amendment) with its event, only if no one changed the loan meanwhile. */
  async function record(
    tx: Transaction,
    loan: LoanState,
    acting: Acting,
    event: RecordedEvent,
    changes: LoanChanges,
  ): Promise<VersionedLoan> {
    const updated = await loans.update(tx, loan.id, loan, changes, eventFields(loan.status, acting, event));
    if (!updated) throw invalidTransition(loan, event.type);
    counters?.loanEvent(event.type);
    return updated;
  }

  /** Checks a new loan's amount and terms against its currency and the schedule rule (422). */
  function checkTerms(loan: {
    amount: string;
    currency: string;
    term_months: number | null;
    interest_rate_apr: string | null;
  }) {
    const rule = currencyRule(loan.currency);
    if ('refusal' in rule) throw invalid('/currency', rule.refusal);
    if (!fitsMinorUnits(loan.amount, rule.minorUnits)) {
      throw invalid('/amount', `amount must be whole in ${loan.currency}, which has no minor unit`);
    }
    const terms = termsOf(loan, rule);
    const problem = terms && scheduleProblem(terms);
    if (problem) throw invalid('/term_months', `term_months cannot amortise this loan: ${problem}`);
  }

  /** Four-eyes and the schedule rule on a loan about to be approved (409, then 403). */
  function checkApproval(loan: ApprovalFacts, acting: Acting, rule: CurrencyRule) {
    const missing = missingTerms(loan);
    if (missing.length > 0)
      throw conflict(`The loan needs ${missing.join(' and ')} before it can be approved.`);
    amortisableTerms(loan, rule);
    if (fourEyes && acting.principal.actor === loan.created_by) {
      throw new Problem(403, 'Four-eyes: the credential that created this loan cannot approve it.');
    }
    if (fourEyes && acting.principal.actor === loan.amended_by) {
      throw new Problem(403, 'Four-eyes: the credential that last amended this loan cannot approve it.');
    }
  }

  /** The columns a command sets that its input does not decide (a disbursal's date is added by the caller). */
  function changesOf(name: CommandName, acting: Acting): LoanChanges {
    const changes: LoanChanges = { status: transitions[name].to };
    if (name === 'approve') changes.approvedBy = acting.principal.actor;
    else if (name === 'undo-approval') changes.approvedBy = null;
    return changes;
  }

  /**
   * The common case in one statement: a command whose change and event follow from the request alone is applied
   * by a conditional UPDATE (status, and the borrower's scope) before the loan is read, and what it returns is
   * checked afterwards, in the contract's order; a refusal throws and the transaction rolls back. Reading and
   * locking the loan first cost a statement, some 12 % of a command's throughput. Undefined, with nothing
   * written, when the request cannot succeed this way (no permission, a body the rules refuse) or no loan
   * matched (missing, another borrower's, another status): `runChecked` then reads the loan and answers why.
   */
  async function runUnread(
    tx: Transaction,
    id: string,
    name: CommandName,
    body: unknown,
    acting: Acting,
  ): Promise<VersionedLoan | undefined> {
    const transition: Transition = transitions[name];
    if (!DECIDED_BY_REQUEST.has(name) || !may(acting.principal, transition.permission)) return undefined;
    let input: { reason?: string };
    try {
      input = commandRules[transition.body](body) as { reason?: string };
    } catch {
      return undefined; // runChecked refuses the body too, after the 404, 403 and 412 that come first
    }
    const applied = await loans.updateUnread(
      tx,
      id,
      { status: transition.from, borrowerId: borrowerScope(acting.principal) },
      changesOf(name, acting),
      eventFields(transition.from, acting, {
        type: transition.event,
        to: transition.to,
        reason: input.reason,
      }),
    );
    if (!applied) return undefined;
    const { created_by, amended_by, ...loan } = applied;
    checkPrecondition(acting, { version: loan.version - 1 });
    const rule = supportedCurrency(loan.currency);
    if (name === 'approve') checkApproval(applied, acting, rule);
    counters?.loanEvent(transition.event);
    return loan;
  }

  /** Any command, the loan read and locked first, every rule checked before anything is written. */
  async function runChecked(
    tx: Transaction,
    id: string,
    name: CommandName,
    body: unknown,
    acting: Acting,
  ): Promise<VersionedLoan> {
    const transition: Transition = transitions[name];
    const loan = await lockVisible(tx, id, acting.principal);
    authorize(acting.principal, transition.permission);
    checkPrecondition(acting, loan);
    const input = commandRules[transition.body](body) as { reason?: string; disbursed_on?: string };
    const today = clock.today();
    if (input.disbursed_on !== undefined) {
      if (!isCalendarDate(input.disbursed_on)) {
        throw invalid('/disbursed_on', 'disbursed_on must be a real calendar date');
      }
      if (input.disbursed_on > today)
        throw invalid('/disbursed_on', `disbursed_on must not be after today (${today})`);
    }
    const rule = supportedCurrency(loan.currency);
    if (loan.status !== transition.from) throw invalidTransition(loan, name);

    const changes = changesOf(name, acting);
    let amount: string | null = null;
    let reason = input.reason ?? null;
    if (name === 'approve') {
      checkApproval(loan, acting, rule);
    } else if (name === 'disburse') {
      if (fourEyes && acting.principal.actor === loan.approved_by) {
        throw new Problem(403, 'Four-eyes: the credential that approved this loan cannot disburse it.');
      }
      const disbursedOn = input.disbursed_on ?? today;
      changes.disbursedOn = disbursedOn;
      amount = loan.amount;
      // The event's time is when it was recorded; a back-dated disbursal says so in its reason.
      if (disbursedOn < today) reason = `Back-dated: disbursed on ${disbursedOn}`;
    } else if (name === 'undo-disbursal') {
      if ((await loans.lastPaidOn(tx, loan.id)) !== null) {
        throw conflict('The disbursal cannot be undone: the loan has repayments.');
      }
      changes.disbursedOn = null;
    } else if (name === 'write-off') {
      // A loan disbursed before v2 without a term or rate has no schedule: all its principal is still owed.
      amount =
        termsOf(loan, rule) === null
          ? loan.amount
          : writeOffAmount(await storedInstalments(tx, loan, rule), today);
    }

    const updated = await record(
      tx,
      loan,
      acting,
      { type: transition.event, to: transition.to, reason, amount },
      changes,
    );
    if (name === 'disburse') {
      const terms = amortisableTerms(loan, rule);
      await loans.fixSchedule(
        tx,
        loan.id,
        buildSchedule({ ...terms, firstPeriodStart: changes.disbursedOn as string }).instalments,
      );
    } else if (name === 'undo-disbursal') {
      await loans.discardSchedule(tx, loan.id);
    }
    return updated;
  }

  const runCommand = async (...command: Parameters<typeof runChecked>): Promise<VersionedLoan> =>
    (await runUnread(...command)) ?? runChecked(...command);

  return {
    async get(id: string, principal: Principal): Promise<VersionedLoan> {
      const loan = await loans.find(id, borrowerScope(principal));
      if (!loan) throw notFound(id);
      return loan;
    },

    /** A page of the loans the principal may see; a borrower's filter naming someone else finds nothing. */
    list(principal: Principal, limit: number, filter: ListFilter, position?: PagePosition) {
      const own = borrowerScope(principal);
      if (own !== null && filter.borrowerId !== undefined && filter.borrowerId !== own)
        return Promise.resolve([]);
      return loans.list(limit, own === null ? filter : { ...filter, borrowerId: own }, position);
    },

    async create(tx: Transaction, body: unknown, acting: Acting): Promise<VersionedLoan> {
      const input = createRules(body);
      const { principal } = acting;
      authorize(principal, 'loans:create');
      if (borrowerScope(principal) !== null && input.borrower_id !== principal.borrowerId) {
        throw new Problem(403, 'A borrower may apply for loans in their own borrower_id only.');
      }
      const loan = {
        borrower_id: input.borrower_id,
        amount: decimalText(input.amount),
        currency: input.currency.toUpperCase(),
        term_months: input.term_months ?? null,
        interest_rate_apr:
          input.interest_rate_apr === undefined ? null : decimalText(input.interest_rate_apr),
      };
      checkTerms(loan);
      const created = await loans.insert(
        tx,
        {
          borrowerId: loan.borrower_id,
          amount: loan.amount,
          currency: loan.currency,
          termMonths: loan.term_months,
          interestRateApr: loan.interest_rate_apr,
          createdBy: principal.actor,
        },
        eventFields(null, acting, { type: 'created', to: 'pending' }),
      );
      counters?.loanEvent('created');
      return created;
    },

    /** A JSON merge patch of a pending loan; one that changes nothing answers the loan as it is, no event. */
    async amend(tx: Transaction, id: string, body: unknown, acting: Acting): Promise<VersionedLoan> {
      const loan = await lockVisible(tx, id, acting.principal);
      authorize(acting.principal, 'loans:amend');
      checkPrecondition(acting, loan);
      const patch = patchRules(body);
      const next = {
        amount: patch.amount === undefined ? loan.amount : decimalText(patch.amount),
        term_months: patch.term_months === undefined ? loan.term_months : patch.term_months,
        interest_rate_apr:
          patch.interest_rate_apr === undefined
            ? loan.interest_rate_apr
            : patch.interest_rate_apr === null
              ? null
              : decimalText(patch.interest_rate_apr),
      };
      checkTerms({ ...next, currency: loan.currency });
      if (loan.status !== 'pending') {
        throw new Problem(409, `Only a pending loan can be amended; this one is ${loan.status}.`, {
          kind: { slug: 'invalid-transition', title: 'Invalid transition' },
        });
      }
      const unchanged =
        sameDecimal(next.amount, loan.amount) &&
        next.term_months === loan.term_months &&
        sameDecimal(next.interest_rate_apr, loan.interest_rate_apr);
      if (unchanged) {
        // The loan as a client sees it: who created, amended and approved it is not part of the answer.
        const { created_by, amended_by, approved_by, ...visible } = loan;
        return visible;
      }
      return record(
        tx,
        loan,
        acting,
        { type: 'amended', to: 'pending' },
        {
          amount: next.amount,
          termMonths: next.term_months,
          interestRateApr: next.interest_rate_apr,
          amendedBy: acting.principal.actor,
        },
      );
    },

    runCommand,

    async events(id: string, principal: Principal) {
      await this.get(id, principal);
      return loans.events(id);
    },

    /**
     * The schedule as JSON: as fixed at disbursal with what is paid, or projected from today before disbursal.
     * The answer depends only on the loan's version (which every change of the loan, its schedule or its
     * repayments moves) and on today, so it is computed once for each pair and kept, a bounded number of them.
     */
    async scheduleJson(id: string, principal: Principal): Promise<string> {
      const loan = await this.get(id, principal);
      const today = clock.today();
      const key = `${loan.id} ${loan.version} ${today}`;
      const kept = scheduleAnswers.get(key);
      if (kept !== undefined) return kept;
      const answer = JSON.stringify(await computeSchedule(loan, today));
      scheduleAnswers.set(key, answer);
      return answer;
    },

    /** Posts a repayment: allocated oldest instalment first, interest first; the loan is repaid when nothing is left. */
    async repay(
      tx: Transaction,
      id: string,
      body: unknown,
      acting: Acting,
    ): Promise<{ repayment: Repayment; loan: VersionedLoan }> {
      const loan = await lockVisible(tx, id, acting.principal);
      authorize(acting.principal, 'repayments:create');
      checkPrecondition(acting, loan);
      const input = repaymentRules(body);
      const today = clock.today();
      const paidOn = input.paid_on ?? today;
      if (!isCalendarDate(paidOn)) throw invalid('/paid_on', 'paid_on must be a real calendar date');
      if (paidOn > today) throw invalid('/paid_on', `paid_on must not be after today (${today})`);
      const rule = supportedCurrency(loan.currency);
      if (loan.status !== 'disbursed') {
        throw new Problem(409, `Only a disbursed loan takes repayments; this one is ${loan.status}.`, {
          kind: { slug: 'invalid-transition', title: 'Invalid transition' },
        });
      }
      const amount = decimalText(input.amount);
      if (!fitsMinorUnits(amount, rule.minorUnits)) {
        throw invalid('/amount', `amount must be whole in ${loan.currency}, which has no minor unit`);
      }
      if (paidOn < (loan.disbursed_on as string)) {
        throw invalid('/paid_on', `paid_on must not be before the disbursal (${loan.disbursed_on})`);
      }
      const { instalments, lastPaidOn } = await loans.repaymentBasis(tx, loan.id);
      if (lastPaidOn !== null && paidOn < lastPaidOn) {
        throw invalid('/paid_on', `paid_on must not be before the latest repayment (${lastPaidOn})`);
      }
      const allocation = allocate(await storedInstalments(tx, loan, rule, instalments), amount);
      if ('refusal' in allocation) throw invalid('/amount', allocation.refusal);

      const stored = await loans.insertRepayment(tx, {
        loanId: loan.id,
        amount,
        paidOn,
        allocation: allocation.parts,
        actor: acting.principal.actor,
      });
      let updated = await record(tx, loan, acting, { type: 'repayment', to: 'disbursed', amount }, {});
      if (toHundredths(allocation.outstanding) === 0n) {
        updated = await record(
          tx,
          { ...loan, version: updated.version },
          acting,
          { type: 'repaid', to: 'repaid' },
          { status: 'repaid' },
        );
      }
      return { repayment: { ...stored, outstanding: allocation.outstanding }, loan: updated };
    },

    async repayments(id: string, principal: Principal) {
      await this.get(id, principal);
      return loans.repayments(id);
    },

    async repayment(id: string, repaymentId: string, principal: Principal) {
      await this.get(id, principal);
      const found = await loans.repayment(id, repaymentId);
      if (!found) throw new Problem(404, `Loan ${id} has no repayment with the id ${repaymentId}.`);
      return found;
    },
  };

  async function computeSchedule(loan: VersionedLoan, today: string): Promise<LoanSchedule> {
    if (loan.status === 'rejected') throw conflict('A rejected loan has no schedule.');
    const missing = missingTerms(loan);
    if (missing.length > 0) throw conflict(`The loan has no schedule until it has ${missing.join(' and ')}.`);
    const rule = supportedCurrency(loan.currency);
    const records = loan.disbursed_on === null ? [] : await loans.instalments(loan.id);
    if (records.length > 0) {
      // Stored instalments passed the rule when they were fixed: only E is computed again.
      return {
        loan_id: loan.id,
        currency: loan.currency,
        instalment_amount: instalmentAmount(termsOf(loan, rule) as LoanTerms),
        ...scheduleView(records, today),
      };
    }
    const schedule = buildSchedule({
      ...amortisableTerms(loan, rule),
      firstPeriodStart: loan.disbursed_on ?? today,
    });
    return {
      loan_id: loan.id,
      currency: loan.currency,
      instalment_amount: schedule.instalmentAmount,
      ...scheduleView(unpaid(schedule.instalments), today),
    };
  }

  /**
   * A disbursed loan's instalments as stored (`records`, read here when not given); a loan disbursed before v2
   * gets its schedule fixed now, from disbursed_on.
   */
  async function storedInstalments(
    tx: Transaction,
    loan: LoanState,
    rule: CurrencyRule,
    records?: InstalmentRecord[],
  ): Promise<InstalmentRecord[]> {
    records ??= await loans.instalments(loan.id, tx);
    if (records.length > 0) return records;
    const terms = amortisableTerms(loan, rule);
    const { instalments } = buildSchedule({ ...terms, firstPeriodStart: loan.disbursed_on as string });
    await loans.fixSchedule(tx, loan.id, instalments);
    return unpaid(instalments);
  }
}
