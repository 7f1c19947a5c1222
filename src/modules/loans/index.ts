import { Elysia, status, t } from 'elysia';
import type { Principal } from '../../auth/permissions';
import { guards } from '../../auth/plugin';
import type { Transaction } from '../../db/statement';
import { etagOf, ifMatch } from '../../http/etag';
import {
  type Idempotency,
  type StoredResponse,
  type WriteContext,
  writeIdempotently,
} from '../../http/idempotency';
import { problemResponses } from '../../http/problem';
import { requestIdOf } from '../../http/request-context';
import { documentedBody } from '../../http/validation';
import { decodeCursor, encodeCursor } from './cursor';
import { commandNames, transitions } from './lifecycle';
import { DEFAULT_PAGE_SIZE, LoanModel } from './model';
import type { Acting, LoanService } from './service';

const commandBodies = {
  'optional-reason': LoanModel.reasonOptional,
  'required-reason': LoanModel.reasonRequired,
  disbursal: LoanModel.disbursal,
};

const versioned = (loan: { version: number }, status: number, extra: Record<string, string> = {}) => {
  const { version, ...body } = loan;
  return { status, body, headers: { etag: etagOf(version), ...extra } };
};

/** The loans API: routes only; every rule is in the service. */
export const loanRoutes = (loans: LoanService, idempotency: Idempotency) => {
  /** Runs a write in one transaction under the request's Idempotency-Key, and answers what it produced. */
  async function write(
    context: WriteContext & { principal: Principal },
    effect: (tx: Transaction, acting: Acting) => Promise<StoredResponse>,
  ) {
    const acting: Acting = {
      principal: context.principal,
      requestId: requestIdOf(context.set.headers),
      matches: ifMatch(context.request.headers.get('if-match')),
    };
    const outcome = await writeIdempotently(idempotency, context, (tx) => effect(tx, acting));
    // Each route declares the status and schema of what its effect produces; a replay is what it produced then.
    return status(outcome.status as never, outcome.body as never);
  }

  const loanWritten = {
    200: 'loan',
    ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 503),
  } as const;

  return new Elysia({ prefix: '/api/loans', tags: ['Loans'] })
    .use(guards)
    .model(LoanModel)
    .get(
      '',
      async ({ query, set, principal }) => {
        const limit = query.limit === undefined ? DEFAULT_PAGE_SIZE : Number(query.limit);
        const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
        const filter = { status: query.status, borrowerId: query.borrower_id };
        // One row past the page tells whether a next page exists without a COUNT.
        const rows = await loans.list(principal, limit + 1, filter, position);
        const page = rows.slice(0, limit).map(({ version, ...loan }) => loan);
        const last = page.at(-1);
        if (rows.length > limit && last) {
          const next = new URLSearchParams({ limit: String(limit) });
          if (query.status) next.set('status', query.status);
          if (query.borrower_id) next.set('borrower_id', query.borrower_id);
          next.set('cursor', encodeCursor({ createdAt: last.created_at, id: last.id }));
          set.headers.link = `</api/loans?${next}>; rel="next"`;
        }
        return page;
      },
      {
        permission: 'loans:read',
        query: LoanModel.listQuery,
        response: { 200: t.Array(LoanModel.loan), ...problemResponses(400, 401, 403, 429, 503) },
        detail: {
          summary: 'List loans, newest first',
          description:
            'A page of at most `limit` loans, optionally only one `status` or one `borrower_id`. When more ' +
            'follow, the `Link` header carries the next page. A borrower sees their own loans only.',
        },
      },
    )
    .get(
      '/:id',
      async ({ params, principal, set }) => {
        const { version, ...loan } = await loans.get(params.id, principal);
        set.headers.etag = etagOf(version);
        return loan;
      },
      {
        permission: 'loans:read',
        params: 'loanParams',
        response: { 200: 'loan', ...problemResponses(400, 401, 403, 404, 429, 503) },
        detail: { summary: 'Read one loan', description: 'With `ETag: "<version>"` for If-Match.' },
      },
    )
    .post(
      '',
      ({ request, path, set, principal, body }) =>
        write({ request, path, set, principal }, async (tx, acting) => {
          const loan = await loans.create(tx, body, acting);
          return versioned(loan, 201, { location: `/api/loans/${loan.id}` });
        }),
      {
        permission: 'loans:create',
        response: { 201: 'loan', ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 503) },
        detail: {
          summary: 'Apply for a loan',
          description:
            'A new loan is always `pending`. The response carries `Location: /api/loans/{id}` and its `ETag`. ' +
            'A borrower applies in their own `borrower_id` only.',
          ...documentedBody(LoanModel.createLoan),
        },
      },
    )
    .patch(
      '/:id',
      ({ request, path, set, principal, params, body }) =>
        write({ request, path, set, principal }, async (tx, acting) =>
          versioned(await loans.amend(tx, params.id, body, acting), 200),
        ),
      {
        loanPermission: 'loans:amend',
        params: 'loanParams',
        response: loanWritten,
        detail: {
          summary: 'Amend a pending loan',
          description:
            'A JSON merge patch (`application/merge-patch+json` or `application/json`) of `amount`, `term_months` ' +
            'and `interest_rate_apr`; `If-Match` makes it conditional.',
          ...documentedBody(LoanModel.patchLoan),
        },
      },
    )
    .get('/:id/events', ({ params, principal }) => loans.events(params.id, principal), {
      permission: 'loans:read',
      params: 'loanParams',
      response: { 200: t.Array(LoanModel.event), ...problemResponses(400, 401, 403, 404, 429, 503) },
      detail: { summary: "A loan's audit trail, oldest first" },
    })
    .get(
      '/:id/schedule',
      // A Response skips Elysia's check of the body against `schedule` (some 2,900 patterned strings for 360
      // months): every field is written by scheduleView's own money and date arithmetic, and the schedule tests
      // and the OpenAPI test hold real answers to that schema.
      async ({ params, principal }) =>
        new Response(await loans.scheduleJson(params.id, principal), {
          headers: { 'content-type': 'application/json' },
        }),
      {
        permission: 'loans:read',
        params: 'loanParams',
        response: { 200: 'schedule', ...problemResponses(400, 401, 403, 404, 409, 429, 503) },
        detail: {
          summary: "A loan's repayment schedule",
          description:
            'Fixed at disbursal, with what is paid, `next_due_on` and `days_past_due`; a pending or approved loan ' +
            'shows its projection from today.',
        },
      },
    )
    .post(
      '/:id/repayments',
      ({ request, path, set, principal, params, body }) =>
        write({ request, path, set, principal }, async (tx, acting) => {
          const { repayment } = await loans.repay(tx, params.id, body, acting);
          return {
            status: 201,
            body: repayment,
            headers: { location: `/api/loans/${repayment.loan_id}/repayments/${repayment.id}` },
          };
        }),
      {
        loanPermission: 'repayments:create',
        params: 'loanParams',
        response: {
          201: 'repayment',
          ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 503),
        },
        detail: {
          summary: 'Post a repayment (officer)',
          description:
            'Allocated to the oldest instalment not fully paid, interest first. More than is outstanding is ' +
            'refused; the loan turns `repaid` when nothing is left.',
          ...documentedBody(LoanModel.createRepayment),
        },
      },
    )
    .get('/:id/repayments', ({ params, principal }) => loans.repayments(params.id, principal), {
      permission: 'loans:read',
      params: 'loanParams',
      response: {
        200: t.Array(LoanModel.storedRepayment),
        ...problemResponses(400, 401, 403, 404, 429, 503),
      },
      detail: { summary: "A loan's repayments, oldest first" },
    })
    .get(
      '/:id/repayments/:repaymentId',
      ({ params, principal }) => loans.repayment(params.id, params.repaymentId, principal),
      {
        permission: 'loans:read',
        params: 'repaymentParams',
        response: { 200: 'storedRepayment', ...problemResponses(400, 401, 403, 404, 429, 503) },
        detail: { summary: 'One repayment' },
      },
    )
    .use((app) =>
      commandNames.reduce(
        (routes, name) =>
          routes.post(
            `/:id/${name}`,
            ({ request, path, set, principal, params, body }) =>
              write({ request, path, set, principal }, async (tx, acting) =>
                versioned(await loans.runCommand(tx, params.id, name, body, acting), 200),
              ),
            {
              loanPermission: transitions[name].permission,
              params: 'loanParams',
              response: loanWritten,
              detail: {
                summary: `${name} (${transitions[name].from} → ${transitions[name].to})`,
                description: `Moves a ${transitions[name].from} loan to ${transitions[name].to} and records a \`${transitions[name].event}\` event.`,
                ...documentedBody(
                  commandBodies[transitions[name].body],
                  transitions[name].body === 'required-reason',
                ),
              },
            },
          ),
        app,
      ),
    );
};
