import { Type } from '@sinclair/typebox';
import { t } from 'elysia';
import { loanStatuses, MAX_LOAN_AMOUNT } from '../../db/schema';
import { BorrowerId } from '../../http/schemas';
import { AMOUNT_FORMAT, RATE_FORMAT } from './money';

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;

const money = t.String({ pattern: '^\\d+\\.\\d{2}$', examples: ['12000.50'] });
const isoTime = t.String({ format: 'date-time', examples: ['2026-11-26T07:09:37.969Z'] });

// Fractional JSON numbers reach validation as the literal text the client wrote (see http/json-body.ts), so
// each decimal field is an integer or a decimal string here, and is never a binary float. Integers are
// TypeBox's own: Elysia's t.Integer also takes a numeric string, rounds it through a float, and makes every
// response pass through a transform.
// A union reports a single error, so its message states the whole rule.
const decimalInput = (
  format: string,
  integer: { exclusiveMinimum?: number; minimum?: number; maximum: number },
  error: string,
) => t.Union([Type.Integer(integer), t.String({ format })], { error, examples: ['12000.50', 250] });

export const LoanModel = {
  loan: t.Object(
    {
      id: t.String({ format: 'uuid', examples: ['6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10'] }),
      borrower_id: t.String({ examples: ['usr_india_999'] }),
      amount: money,
      currency: t.String({ examples: ['INR'] }),
      status: t.UnionEnum(loanStatuses),
      term_months: t.Nullable(Type.Integer({ examples: [6] })),
      interest_rate_apr: t.Nullable(t.String({ examples: ['24.00'] })),
      created_at: isoTime,
      updated_at: isoTime,
    },
    { description: 'A loan; money is a decimal string with two places, times are ISO 8601 UTC' },
  ),

  createLoan: t.Object(
    {
      borrower_id: BorrowerId,
      amount: decimalInput(
        AMOUNT_FORMAT,
        { exclusiveMinimum: 0, maximum: Number(MAX_LOAN_AMOUNT) },
        `amount must be a number or decimal string greater than 0 and at most ${MAX_LOAN_AMOUNT}, with at most two decimal places`,
      ),
      currency: t.String({
        pattern: '^[A-Za-z]{3}$',
        error: 'currency must be a three-letter code such as INR',
        examples: ['INR'],
      }),
      term_months: t.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 360,
          error: 'term_months must be an integer from 1 to 360',
          examples: [6],
        }),
      ),
      interest_rate_apr: t.Optional(
        decimalInput(
          RATE_FORMAT,
          { minimum: 0, maximum: 100 },
          'interest_rate_apr must be a number or decimal string from 0 to 100, with at most two decimal places',
        ),
      ),
    },
    {
      additionalProperties: false,
      description:
        'A new loan. `amount` and `interest_rate_apr` take a JSON number or a decimal string with at most two ' +
        'places; a number is read from the digits the client sent, never through a binary float.',
      examples: [{ borrower_id: 'usr_india_999', amount: '12000.50', currency: 'inr', term_months: 6 }],
    },
  ),

  loanParams: t.Object({
    id: t.String({
      format: 'uuid',
      error: 'id must be a UUID',
      examples: ['00000000-0000-0000-0000-000000000001'],
    }),
  }),

  listQuery: t.Object({
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
  }),
};

export type Loan = typeof LoanModel.loan.static;
