import { Elysia, status, t } from 'elysia';
import { Problem, problemResponses } from '../../http/problem';
import { decodeCursor, encodeCursor } from './cursor';
import { DEFAULT_PAGE_SIZE, LoanModel } from './model';
import { decimalText } from './money';
import type { LoanRepository } from './repository';

export const loanRoutes = (loans: LoanRepository, events: { onCreated?: () => void } = {}) =>
  new Elysia({ prefix: '/api/loans', tags: ['Loans'] })
    .model(LoanModel)
    .get(
      '',
      async ({ query, set }) => {
        const limit = query.limit === undefined ? DEFAULT_PAGE_SIZE : Number(query.limit);
        const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
        // One row past the page tells whether a next page exists without a COUNT.
        const rows = await loans.list(limit + 1, position);
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        if (rows.length > limit && last) {
          const cursor = encodeCursor({ createdAt: last.created_at, id: last.id });
          set.headers.link = `</api/loans?limit=${limit}&cursor=${cursor}>; rel="next"`;
        }
        return page;
      },
      {
        query: LoanModel.listQuery,
        response: { 200: t.Array(LoanModel.loan), ...problemResponses(400, 429, 503) },
        detail: {
          summary: 'List loans, newest first',
          description:
            'A page of at most `limit` loans. When more follow, the `Link` header carries the next page: ' +
            '`</api/loans?limit=50&cursor=…>; rel="next"`.',
        },
      },
    )
    .get(
      '/:id',
      async ({ params }) => {
        const loan = await loans.findById(params.id);
        if (!loan) throw new Problem(404, `No loan has the id ${params.id}.`);
        return loan;
      },
      {
        params: 'loanParams',
        response: { 200: 'loan', ...problemResponses(400, 404, 429, 503) },
        detail: { summary: 'Read one loan' },
      },
    )
    .post(
      '',
      async ({ body, set }) => {
        const loan = await loans.create({
          borrowerId: body.borrower_id,
          amount: decimalText(body.amount),
          currency: body.currency.toUpperCase(),
          termMonths: body.term_months ?? null,
          interestRateApr: body.interest_rate_apr === undefined ? null : decimalText(body.interest_rate_apr),
        });
        events.onCreated?.();
        set.headers.location = `/api/loans/${loan.id}`;
        return status(201, loan);
      },
      {
        body: 'createLoan',
        parse: 'application/json',
        response: { 201: 'loan', ...problemResponses(400, 413, 415, 422, 429, 503) },
        detail: {
          summary: 'Create a loan',
          description: 'A new loan is always `pending`. The response carries `Location: /api/loans/{id}`.',
        },
      },
    );
