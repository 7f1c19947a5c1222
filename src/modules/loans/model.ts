import { Type } from '@sinclair/typebox';
import { t } from 'elysia';
import {
  loanEventTypes,
  loanStatuses,
  MAX_INTEREST_RATE_APR,
  MAX_LOAN_AMOUNT,
  MAX_TERM_MONTHS,
} from '../../db/schema';
import { sentWithETag } from '../../http/openapi';
import { BorrowerId, IsoDate, IsoTime, Money, oneOf, Uuid } from '../../http/schemas';
import { AMOUNT_FORMAT, MAX_MONEY, PAYMENT_FORMAT, RATE_FORMAT } from './money';

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_REASON_LENGTH = 500;

// Fractional JSON numbers reach validation as the literal text the client wrote (see http/json-body.ts), so
// each decimal field is an integer or a decimal string here, and is never a binary float. Integers are
// TypeBox's own: Elysia's t.Integer also takes a numeric string, rounds it through a float, and makes every
// response pass through a transform.
// A union reports a single error, so its message states the whole rule.
const decimalInput = (
  format: string,
  integer: { exclusiveMinimum?: number; minimum?: number; maximum: number },
  error: string,
  examples: (string | number)[],
) => t.Union([Type.Integer(integer), t.String({ format })], { error, examples });

const amountInput = decimalInput(
  AMOUNT_FORMAT,
  { exclusiveMinimum: 0, maximum: Number(MAX_LOAN_AMOUNT) },
  `amount must be a number or decimal string greater than 0 and at most ${MAX_LOAN_AMOUNT}, with at most two decimal places`,
  ['12000.50', 250],
);
const termInput = Type.Integer({
  minimum: 1,
  maximum: MAX_TERM_MONTHS,
  error: `term_months must be an integer from 1 to ${MAX_TERM_MONTHS}`,
  examples: [6],
});
const rateInput = decimalInput(
  RATE_FORMAT,
  { minimum: 0, maximum: MAX_INTEREST_RATE_APR },
  `interest_rate_apr must be a number or decimal string from 0 to ${MAX_INTEREST_RATE_APR}, with at most two decimal places`,
  ['24.00', 24],
);
const reason = t.String({
  minLength: 1,
  maxLength: MAX_REASON_LENGTH,
  pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]+$',
  error: `reason must be 1 to ${MAX_REASON_LENGTH} characters with no control characters`,
  examples: ['Income verified'],
});

const repaymentFields = {
  id: Uuid,
  loan_id: Uuid,
  amount: Money('2142.40'),
  paid_on: IsoDate,
  allocation: t.Array(
    t.Object({
      number: Type.Integer({ minimum: 1 }),
      interest: Money('240.01'),
      principal: Money('1902.39'),
    }),
  ),
  created_at: IsoTime,
};

export const LoanModel = {
  loan: t.Object(
    {
      id: t.String({ format: 'uuid', examples: ['6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10'] }),
      borrower_id: t.String({ examples: ['usr_india_999'] }),
      amount: Money(),
      currency: t.String({ examples: ['INR'] }),
      status: oneOf(loanStatuses),
      term_months: t.Nullable(Type.Integer({ examples: [6] })),
      interest_rate_apr: t.Nullable(t.String({ examples: ['24.00'] })),
      disbursed_on: t.Nullable(IsoDate),
      created_at: IsoTime,
      updated_at: IsoTime,
    },
    {
      description: 'A loan; money is a decimal string with two places, times are ISO 8601 UTC',
      ...sentWithETag,
    },
  ),

  createLoan: t.Object(
    {
      borrower_id: BorrowerId,
      amount: amountInput,
      currency: t.String({
        pattern: '^[A-Za-z]{3}$',
        error: 'currency must be a three-letter code such as INR',
        examples: ['INR'],
      }),
      term_months: t.Optional(termInput),
      interest_rate_apr: t.Optional(rateInput),
    },
    {
      additionalProperties: false,
      description:
        'A new loan. `amount` and `interest_rate_apr` take a JSON number or a decimal string with at most two ' +
        'places; a number is read from the digits the client sent, never through a binary float.',
      examples: [{ borrower_id: 'usr_india_999', amount: '12000.50', currency: 'inr', term_months: 6 }],
    },
  ),

  patchLoan: t.Object(
    {
      amount: t.Optional(amountInput),
      term_months: t.Optional(t.Nullable(termInput)),
      interest_rate_apr: t.Optional(t.Nullable(rateInput)),
    },
    {
      additionalProperties: false,
      description:
        'A JSON merge patch of a pending loan: `amount`, `term_months`, `interest_rate_apr` (`null` removes the ' +
        'last two). Any other field is refused.',
      examples: [{ term_months: 12, interest_rate_apr: '18.50' }],
    },
  ),

  reasonOptional: t.Object({ reason: t.Optional(reason) }, { additionalProperties: false }),
  reasonRequired: t.Object({ reason }, { additionalProperties: false }),
  disbursal: t.Object(
    {
      disbursed_on: t.Optional(
        t.String({
          format: 'date',
          error: 'disbursed_on must be a date such as 2026-12-01',
          examples: ['2026-12-01'],
        }),
      ),
    },
    { additionalProperties: false },
  ),

  event: t.Object(
    {
      id: Type.Integer({ examples: [1] }),
      type: oneOf(loanEventTypes),
      from_status: t.Nullable(oneOf(loanStatuses)),
      to_status: oneOf(loanStatuses),
      actor: t.String({ examples: ['00000000-0000-4000-8000-00000000d002'] }),
      request_id: t.Nullable(t.String()),
      reason: t.Nullable(t.String()),
      amount: t.Nullable(Money()),
      at: IsoTime,
    },
    { description: "One entry of a loan's audit trail" },
  ),

  createRepayment: t.Object(
    {
      amount: decimalInput(
        PAYMENT_FORMAT,
        { exclusiveMinimum: 0, maximum: Number(MAX_MONEY) },
        'amount must be a number or decimal string greater than 0, with at most two decimal places',
        ['2142.40', 500],
      ),
      paid_on: t.Optional(
        t.String({
          format: 'date',
          error: 'paid_on must be a date such as 2026-12-01',
          examples: ['2026-12-01'],
        }),
      ),
    },
    { additionalProperties: false, examples: [{ amount: '2142.40', paid_on: '2026-12-01' }] },
  ),

  repayment: t.Object(
    { ...repaymentFields, outstanding: Money('10711.99') },
    {
      description:
        'A repayment as posted: how it was spread over the instalments (oldest first, interest first) and the ' +
        'principal plus interest still owed after it',
    },
  ),

  storedRepayment: t.Object(repaymentFields, {
    description: 'A repayment and how it was spread over the instalments, oldest first, interest first',
  }),

  schedule: t.Object(
    {
      loan_id: Uuid,
      currency: t.String({ examples: ['INR'] }),
      instalment_amount: Money('2142.40'),
      instalments: t.Array(
        t.Object({
          number: Type.Integer({ minimum: 1, examples: [1] }),
          due_on: IsoDate,
          principal: Money('1902.39'),
          interest: Money('240.01'),
          total: Money('2142.40'),
          paid: Money('0.00'),
          outstanding: Money('2142.40'),
          status: oneOf(['paid', 'overdue', 'upcoming']),
        }),
      ),
      totals: t.Object({
        principal: Money('12000.50'),
        interest: Money('853.89'),
        total: Money('12854.39'),
        paid: Money('0.00'),
        outstanding: Money('12854.39'),
      }),
      next_due_on: t.Nullable(IsoDate),
      days_past_due: Type.Integer({ minimum: 0, examples: [0] }),
    },
    {
      description:
        'Monthly equal instalments: fixed at disbursal, projected from today for a pending or approved loan',
    },
  ),

  loanParams: t.Object({ id: Uuid }),
  repaymentParams: t.Object({ id: Uuid, repaymentId: Uuid }),

  listQuery: t.Object(
    {
      // Digits checked as text: Elysia's coercing t.Integer reports a query error without naming the parameter.
      limit: t.Optional(
        t.String({
          pattern: '^(?:[1-9]\\d?|1\\d\\d|200)$',
          error: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`,
          description: `Page size from 1 to ${MAX_PAGE_SIZE}, ${DEFAULT_PAGE_SIZE} by default`,
          examples: ['50'],
        }),
      ),
      cursor: t.Optional(t.String({ description: 'Opaque: copy it from the `Link: rel="next"` header' })),
      status: t.Optional(
        oneOf(loanStatuses, {
          error: `status must be one of ${loanStatuses.join(', ')}`,
          description: 'Only loans in this status',
        }),
      ),
      // The create rule, so a filter can never send Postgres a value it refuses (a NUL); NFC like the stored ids.
      borrower_id: t.Optional(BorrowerId),
      // Other parameters (cache-busters, tracking) are ignored, as on every other route.
    },
    { additionalProperties: true },
  ),
};

export type Loan = typeof LoanModel.loan.static;
export type LoanEvent = typeof LoanModel.event.static;
export type Repayment = typeof LoanModel.repayment.static;
export type LoanSchedule = typeof LoanModel.schedule.static;
