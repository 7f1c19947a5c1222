import { describe, expect, test } from 'bun:test';
import { loanStatuses } from '../../../src/db/schema';
import type { Loan } from '../../../src/modules/loans/model';
import { devKeys, type TestApp, useTestApp } from '../../support/app';
import {
  actorOf,
  type Client,
  command,
  createLoan,
  eventsOf,
  loanIn,
  problemOf,
  snapshot,
  versionOf,
} from '../../support/lifecycle';

const t = useTestApp();

const MERGE_PATCH = 'application/merge-patch+json';

const patch = (
  client: Client,
  id: string,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = MERGE_PATCH,
) =>
  client.req(`/api/loans/${id}`, {
    method: 'PATCH',
    headers: { 'content-type': contentType, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('PATCH /api/loans/:id', () => {
  test.each([MERGE_PATCH, 'application/json', 'application/merge-patch+json; charset=utf-8'])(
    'amends a pending loan sent as %s: the new loan, a new ETag, an amended event',
    async (contentType) => {
      const { id } = await createLoan(t);
      const response = await patch(
        t,
        id,
        { amount: 2500.5, term_months: 12, interest_rate_apr: '9.5' },
        { 'x-request-id': 'amend-1' },
        contentType,
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('etag')).toBe('"2"');
      const loan = (await response.json()) as Loan;
      expect(loan).toMatchObject({
        id,
        status: 'pending',
        amount: '2500.50',
        term_months: 12,
        interest_rate_apr: '9.50',
      });
      const after = await snapshot(t, id);
      expect(JSON.parse(after.text)).toEqual(loan);
      expect(after.etag).toBe('"2"');
      const events = await eventsOf(t, id);
      expect(events.map((event) => event.type)).toEqual(['created', 'amended']);
      expect(events[1]).toMatchObject({
        from_status: 'pending',
        to_status: 'pending',
        actor: actorOf(devKeys.officer),
        request_id: 'amend-1',
        reason: null,
        amount: null,
      });
    },
  );

  test('a patch names only what changes: the rest stays as it was', async () => {
    const { id } = await createLoan(t, { amount: '700.00' });
    const loan = (await (await patch(t, id, { term_months: 3 })).json()) as Loan;
    expect(loan).toMatchObject({ amount: '700.00', term_months: 3, interest_rate_apr: '12.00' });
  });

  test('null removes the term and the rate, and approval then names them', async () => {
    const { id } = await createLoan(t);
    const response = await patch(t, id, { term_months: null, interest_rate_apr: null });
    expect(response.status).toBe(200);
    expect((await response.json()) as Loan).toMatchObject({ term_months: null, interest_rate_apr: null });
    const problem = await problemOf(await command(t, id, 'approve'), 409);
    expect(problem.detail).toContain('term_months');
    expect(problem.detail).toContain('interest_rate_apr');
  });

  test('null for the amount is refused: a loan always has one', async () => {
    const { id } = await createLoan(t);
    const before = await snapshot(t, id);
    const problem = await problemOf(await patch(t, id, { amount: null }), 422);
    expect(problem.errors?.map((error) => error.path)).toContain('/amount');
    expect(await snapshot(t, id)).toEqual(before);
  });

  test.each([
    ['currency', { currency: 'INR' }, '/currency'],
    ['borrower_id', { borrower_id: 'usr_other' }, '/borrower_id'],
    ['status', { status: 'approved' }, '/status'],
    ['id', { id: '6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10' }, '/id'],
    ['disbursed_on', { disbursed_on: '2026-01-01' }, '/disbursed_on'],
    ['an unknown field beside a valid one', { term_months: 3, colour: 'blue' }, '/colour'],
  ])('%s cannot be patched: 422 naming it, nothing changes', async (_what, body, path) => {
    const { id } = await createLoan(t);
    const before = await snapshot(t, id);
    const problem = await problemOf(await patch(t, id, body), 422);
    expect(problem.errors?.map((error) => error.path)).toContain(path);
    expect(await snapshot(t, id)).toEqual(before);
  });

  test.each([
    ['a zero amount', { amount: 0 }, '/amount'],
    ['an amount over 50000', { amount: '50000.01' }, '/amount'],
    ['an amount with three decimals', { amount: '10.005' }, '/amount'],
    ['an amount read as written, not as a float', '{"amount":1.000000000000000001}', '/amount'],
    ['a term of 361 months', { term_months: 361 }, '/term_months'],
    ['a fractional term', { term_months: 2.5 }, '/term_months'],
    ['a rate over 100', { interest_rate_apr: 100.01 }, '/interest_rate_apr'],
    [
      'a term the schedule cannot amortise',
      { amount: 50000, interest_rate_apr: 36, term_months: 360 },
      '/term_months',
    ],
  ])('the create rules apply: %s is 422, nothing changes', async (_what, body, path) => {
    const { id } = await createLoan(t);
    const before = await snapshot(t, id);
    const problem = await problemOf(await patch(t, id, body), 422);
    expect(problem.errors?.map((error) => error.path)).toContain(path);
    expect(await snapshot(t, id)).toEqual(before);
  });

  test('amounts follow the currency: a currency with no minor unit takes whole amounts only', async () => {
    const { id } = await createLoan(t, { currency: 'JPY', amount: '8400' });
    const before = await snapshot(t, id);
    const problem = await problemOf(await patch(t, id, { amount: '8400.50' }), 422);
    expect(problem.errors?.map((error) => error.path)).toEqual(['/amount']);
    expect(await snapshot(t, id)).toEqual(before);
    const whole = await patch(t, id, { amount: '9000.00' });
    expect(whole.status).toBe(200);
    expect(((await whole.json()) as Loan).amount).toBe('9000.00');
  });

  test.each(loanStatuses.filter((status) => status !== 'pending'))(
    'a %s loan cannot be amended: 409, nothing changes',
    async (status) => {
      const id = await loanIn(t, status);
      const before = await snapshot(t, id);
      const problem = await problemOf(await patch(t, id, { term_months: 3 }), 409);
      expect(problem.detail).toContain(status);
      expect(await snapshot(t, id)).toEqual(before);
    },
  );

  test.each([
    ['an empty patch', {}],
    ['the same values', { amount: '1200.00', term_months: 6, interest_rate_apr: '12.00' }],
    ['the same amount written otherwise', { amount: 1200, interest_rate_apr: '12' }],
  ])('%s answers 200 with the same ETag and no event', async (_what, body) => {
    const { id } = await createLoan(t);
    const before = await snapshot(t, id);
    const response = await patch(t, id, body);
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe(before.etag);
    expect(await response.text()).toBe(before.text);
    expect(await snapshot(t, id)).toEqual(before);
  });

  test('a borrower amends their own loan, and is the recorded actor', async () => {
    const borrower = t.as(devKeys.borrower);
    const { id } = await createLoan(borrower, { borrower_id: 'usr_kenya_001' });
    const response = await patch(borrower, id, { amount: '800.00' });
    expect(response.status).toBe(200);
    expect((await eventsOf(t, id)).at(-1)).toMatchObject({
      type: 'amended',
      actor: actorOf(devKeys.borrower),
    });
  });

  test("a borrower amending another borrower's loan gets 404, as for a loan that does not exist", async () => {
    const { id } = await createLoan(t, { borrower_id: 'usr_india_002' });
    const before = await snapshot(t, id);
    const problem = await problemOf(await patch(t.as(devKeys.borrower), id, { amount: '1.00' }), 404);
    const missing = await problemOf(
      await patch(t.as(devKeys.borrower), '6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10', { amount: '1.00' }),
      404,
    );
    expect(problem.detail.replace(id, '<id>')).toBe(missing.detail.replace(/[0-9a-f-]{36}/, '<id>'));
    expect(await snapshot(t, id)).toEqual(before);
  });

  test('If-Match: the current ETag amends, a stale one is 412 and nothing changes', async () => {
    const { id } = await createLoan(t);
    const stale = await patch(t, id, { term_months: 3 }, { 'if-match': '"1"' });
    expect(stale.status).toBe(200);
    const before = await snapshot(t, id);
    await problemOf(await patch(t, id, { term_months: 4 }, { 'if-match': '"1"' }), 412);
    await problemOf(await patch(t, id, { term_months: 4 }, { 'if-match': 'W/"2"' }), 412);
    expect(await snapshot(t, id)).toEqual(before);
    const current = await patch(t, id, { term_months: 4 }, { 'if-match': before.etag as string });
    expect(current.headers.get('etag')).toBe(`"${versionOf(before.etag) + 1}"`);
  });

  test('a body that is not JSON is 415, an empty one 400, and neither changes anything', async () => {
    const { id } = await createLoan(t);
    const before = await snapshot(t, id);
    await problemOf(await patch(t, id, 'term_months=3', {}, 'application/x-www-form-urlencoded'), 415);
    await problemOf(await patch(t, id, ''), 400);
    await problemOf(await patch(t, id, '{"term_months":'), 400);
    expect(await snapshot(t, id)).toEqual(before);
  });
});

describe('four-eyes and amendments', () => {
  const strict: TestApp = useTestApp({ fourEyes: true });

  test('the credential that last amended a loan cannot approve it; another officer can', async () => {
    const { id } = await createLoan(strict.as(devKeys.admin));
    expect((await patch(strict, id, { term_months: 12 })).status).toBe(200);
    const before = await snapshot(strict, id);
    const problem = await problemOf(await command(strict, id, 'approve'), 403);
    expect(problem.detail).toContain('amended');
    expect(await snapshot(strict, id)).toEqual(before);
    expect((await command(strict.as(devKeys.officer2), id, 'approve')).status).toBe(200);
  });
});
