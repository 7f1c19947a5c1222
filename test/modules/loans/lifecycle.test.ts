import { describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { businessClock } from '../../../src/clock';
import { loanStatuses } from '../../../src/db/schema';
import {
  type CommandName,
  commandNames,
  commandsFrom,
  transitions,
} from '../../../src/modules/loans/lifecycle';
import type { Loan } from '../../../src/modules/loans/model';
import { devKeys, useTestApp } from '../../support/app';
import {
  actorOf,
  command,
  commandBody,
  countOf,
  createLoan,
  eventsOf,
  loanIn,
  problemOf,
  rowsOf,
  snapshot,
  versionOf,
} from '../../support/lifecycle';

const t = useTestApp();

const MISSING_ID = '6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10';
const today = () => businessClock('UTC').today();
const daysFromToday = (days: number) =>
  businessClock('UTC', () => new Date(Date.now() + days * 86_400_000)).today();

/** The command names a detail mentions, as whole words (so `approve` is not found inside `undo-approval`). */
const commandsNamedIn = (detail: string) =>
  commandNames.filter((name) => new RegExp(`(?<![\\w-])${name}(?![\\w-])`).test(detail)).sort();

const cases = loanStatuses.flatMap((status) => commandNames.map((name) => [status, name] as const));

describe('every command from every status, as the transition table says', () => {
  test.each(cases)('%s loan, %s', async (status, name) => {
    const id = await loanIn(t, status);
    const before = await snapshot(t, id);
    const requestId = `matrix-${status}-${name}`;
    const body = commandBody(name);
    const response = await command(t, id, name, body, { 'x-request-id': requestId });
    const transition = transitions[name];

    if (transition.from !== status) {
      const problem = await problemOf(response, 409);
      expect(problem.type).toEndWith('/problems/invalid-transition');
      expect(problem.detail).toContain(status);
      const allowed = commandNames.filter((other) => transitions[other].from === status);
      expect(commandsNamedIn(problem.detail)).toEqual([...new Set([...allowed, name])].sort());
      expect(await snapshot(t, id)).toEqual(before);
      return;
    }

    expect(response.status).toBe(200);
    const loan = (await response.json()) as Loan;
    expect(loan.status).toBe(transition.to);
    const version = versionOf(before.etag);
    expect(response.headers.get('etag')).toBe(`"${version + 1}"`);
    const after = await snapshot(t, id);
    expect(JSON.parse(after.text)).toEqual(loan);
    expect(after.etag).toBe(`"${version + 1}"`);
    expect(after.events).toBe(before.events + 1);
    expect(loan.disbursed_on).toBe(['disbursed', 'defaulted'].includes(transition.to) ? today() : null);
    expect((await eventsOf(t, id)).at(-1)).toMatchObject({
      type: transition.event,
      from_status: status,
      to_status: transition.to,
      actor: actorOf(devKeys.officer),
      request_id: requestId,
      reason: body.reason ?? null,
    });
  });
});

describe('bad input changes nothing', () => {
  test.each(commandNames)('%s on a loan that does not exist: 404', async (name) => {
    await problemOf(await command(t, MISSING_ID, name), 404);
  });

  test.each(commandNames)('%s on a malformed id: 400 naming /id', async (name) => {
    const problem = await problemOf(await command(t, 'not-a-uuid', name), 400);
    expect(problem.errors?.[0]?.path).toBe('/id');
  });

  test('an unknown command: 404', async () => {
    const id = await loanIn(t, 'pending');
    const before = await snapshot(t, id);
    await problemOf(await t.post(`/api/loans/${id}/archive`, {}), 404);
    await problemOf(await t.post(`/api/loans/${id}/Approve`, {}), 404);
    expect(await snapshot(t, id)).toEqual(before);
  });

  const requiredReason = commandNames.filter((name) => transitions[name].body === 'required-reason');
  const takesReason = commandNames.filter((name) => transitions[name].body !== 'disbursal');

  test.each(requiredReason)('%s without its required reason: 422 naming /reason', async (name) => {
    const id = await loanIn(t, transitions[name].from);
    const before = await snapshot(t, id);
    for (const body of [{}, '']) {
      const problem = await problemOf(await command(t, id, name, body), 422);
      expect(problem.errors?.map((error) => error.path)).toContain('/reason');
    }
    expect(await snapshot(t, id)).toEqual(before);
  });

  test.each(
    takesReason.flatMap((name) => [
      [name, 'of 501 characters', 'x'.repeat(501)],
      [name, 'that is empty', ''],
      [name, 'with a newline', 'two\nlines'],
      [name, 'with a bell', 'ring\u0007'],
      [name, 'with a C1 control', 'next\u0085line'],
      [name, 'that is not a string', 42],
    ]),
  )('%s with a reason %s: 422 naming /reason', async (name, _what, reason) => {
    const id = await loanIn(t, transitions[name].from);
    const before = await snapshot(t, id);
    const problem = await problemOf(await command(t, id, name, { reason }), 422);
    expect(problem.errors?.map((error) => error.path)).toContain('/reason');
    expect(await snapshot(t, id)).toEqual(before);
  });

  test('a reason of exactly 500 characters is taken and recorded whole', async () => {
    const id = await loanIn(t, 'pending');
    const reason = 'é'.repeat(500);
    expect((await command(t, id, 'reject', { reason })).status).toBe(200);
    expect((await eventsOf(t, id)).at(-1)?.reason).toBe(reason);
  });

  test('a command refuses a property its body does not have: 422', async () => {
    const id = await loanIn(t, 'pending');
    const before = await snapshot(t, id);
    const problem = await problemOf(await command(t, id, 'approve', { status: 'approved' }), 422);
    expect(problem.errors?.map((error) => error.path)).toContain('/status');
    expect(await snapshot(t, id)).toEqual(before);
  });

  test.each([
    ['tomorrow', () => daysFromToday(1)],
    ['30 February', () => '2026-02-30'],
    ['29 February of a common year', () => '2025-02-29'],
    ['month 13', () => '2026-13-01'],
    ['not a date', () => 'yesterday'],
    ['a timestamp', () => `${today()}T00:00:00Z`],
  ])('a disbursal dated %s: 422 naming /disbursed_on', async (_what, date) => {
    const id = await loanIn(t, 'approved');
    const before = await snapshot(t, id);
    const problem = await problemOf(await command(t, id, 'disburse', { disbursed_on: date() }), 422);
    expect(problem.errors?.map((error) => error.path)).toContain('/disbursed_on');
    expect(await snapshot(t, id)).toEqual(before);
  });

  test('a disbursal back-dated is taken, and the date is on the loan and its schedule', async () => {
    const id = await loanIn(t, 'approved');
    const response = await command(t, id, 'disburse', { disbursed_on: '2024-02-29' });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Loan).disbursed_on).toBe('2024-02-29');
    const schedule = (await (await t.req(`/api/loans/${id}/schedule`)).json()) as {
      instalments: { due_on: string }[];
    };
    expect(schedule.instalments[0]?.due_on).toBe('2024-03-29');
  });

  test('status in a create body: 422, no loan stored', async () => {
    const loans = () => countOf(t.database.db, sql`SELECT count(*)::int AS n FROM loans`);
    const before = await loans();
    const problem = await problemOf(
      await t.post('/api/loans', { borrower_id: 'b', amount: 10, currency: 'KES', status: 'approved' }),
      422,
    );
    expect(problem.errors?.map((error) => error.path)).toContain('/status');
    expect(await loans()).toBe(before);
  });

  test.each([
    ['an unquoted version', '1'],
    ['an unterminated quote', '"1'],
    ['a weak tag without quotes', 'W/1'],
    ['two tags without a comma', '"1" "2"'],
    ['a word', 'latest'],
    ['an empty header', ''],
  ])('an If-Match with %s: 412, nothing changes', async (_what, ifMatch) => {
    const id = await loanIn(t, 'pending');
    const before = await snapshot(t, id);
    expect(before.etag).toBe('"1"');
    const problem = await problemOf(await command(t, id, 'approve', {}, { 'if-match': ifMatch }), 412);
    expect(problem.type).toEndWith('/problems/precondition-failed');
    expect(await snapshot(t, id)).toEqual(before);
  });

  test.each([
    ['no characters', ''],
    ['256 characters', 'k'.repeat(256)],
    ['a space', 'two words'],
    ['a tab', 'tab\there'],
    ['a DEL', 'del\u007f'],
    ['a Latin-1 letter', 'clé'],
  ])('an Idempotency-Key with %s: 400, nothing changes', async (_what, key) => {
    const id = await loanIn(t, 'pending');
    const before = await snapshot(t, id);
    const problem = await problemOf(await command(t, id, 'approve', {}, { 'idempotency-key': key }), 400);
    expect(problem.detail).toContain('Idempotency-Key');
    expect(await snapshot(t, id)).toEqual(before);
    expect(
      await countOf(t.database.db, sql`SELECT count(*)::int AS n FROM idempotency_keys WHERE key = ${key}`),
    ).toBe(0);
  });

  test('an Idempotency-Key of 255 characters from ! to ~ is taken', async () => {
    const id = await loanIn(t, 'pending');
    const printable = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');
    const key = printable.repeat(3).slice(0, 255);
    expect((await command(t, id, 'approve', {}, { 'idempotency-key': key })).status).toBe(200);
  });

  test.each([
    ['no Content-Type', undefined],
    ['text/plain', 'text/plain'],
    ['application/json', 'application/json'],
  ])('an empty body with %s counts as {}', async (_what, contentType) => {
    const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
    const send = (id: string, name: CommandName) =>
      t.req(`/api/loans/${id}/${name}`, { method: 'POST', headers, body: '' });
    const id = await loanIn(t, 'pending');
    for (const name of ['approve', 'disburse'] as const) {
      const response = await send(id, name);
      expect(response.status).toBe(200);
      expect(((await response.json()) as Loan).status).toBe(transitions[name].to);
    }
    // {} lacks the reason that reject requires.
    const pending = await loanIn(t, 'pending');
    const problem = await problemOf(await send(pending, 'reject'), 422);
    expect(problem.errors?.map((error) => error.path)).toContain('/reason');
  });

  test.each([
    ['neither term nor rate', {}, ['term_months', 'interest_rate_apr']],
    ['no term', { interest_rate_apr: '10.00' }, ['term_months']],
    ['no rate', { term_months: 12 }, ['interest_rate_apr']],
  ])('approving a loan with %s: 409 naming what is missing', async (_what, terms, missing) => {
    const loan = await createLoan(t, { term_months: undefined, interest_rate_apr: undefined, ...terms });
    const before = await snapshot(t, loan.id);
    const problem = await problemOf(await command(t, loan.id, 'approve', ''), 409);
    for (const field of missing) expect(problem.detail).toContain(field);
    for (const field of ['term_months', 'interest_rate_apr'].filter((f) => !missing.includes(f))) {
      expect(problem.detail).not.toContain(field);
    }
    expect(await snapshot(t, loan.id)).toEqual(before);
  });

  test.each(commandNames)(
    "%s by a borrower: 403 on their own loan, 404 on another borrower's, nothing changes",
    async (name) => {
      const own = await loanIn(t, transitions[name].from, { borrower_id: 'usr_kenya_001' });
      const other = await loanIn(t, transitions[name].from, { borrower_id: 'usr_india_002' });
      const before = [await snapshot(t, own), await snapshot(t, other)];
      const borrower = t.as(devKeys.borrower);
      await problemOf(await command(borrower, own, name), 403);
      await problemOf(await command(borrower, other, name), 404);
      expect([await snapshot(t, own), await snapshot(t, other)]).toEqual(before);
    },
  );

  test('an admin may run commands too, and is the recorded actor', async () => {
    const id = await loanIn(t, 'pending');
    expect((await command(t.as(devKeys.admin), id, 'approve')).status).toBe(200);
    expect((await eventsOf(t, id)).at(-1)?.actor).toBe(actorOf(devKeys.admin));
  });

  test('undo-disbursal once a repayment exists: 409, nothing changes', async () => {
    const id = await loanIn(t, 'disbursed');
    expect((await t.post(`/api/loans/${id}/repayments`, { amount: '10.00' })).status).toBe(201);
    const before = await snapshot(t, id);
    const problem = await problemOf(await command(t, id, 'undo-disbursal'), 409);
    expect(problem.detail).toContain('repayment');
    expect(await snapshot(t, id)).toEqual(before);
  });

  test('a loan whose currency is no longer supported can be read, but refuses every command: 409', async () => {
    const [row] = await rowsOf<{ id: string }>(
      t.database.db,
      sql`INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr)
          VALUES ('usr_legacy', 100, 'XAU', 6, 10) RETURNING id`,
    );
    const id = (row as { id: string }).id;
    const before = await snapshot(t, id);
    for (const name of commandsFrom('pending')) await problemOf(await command(t, id, name), 409);
    expect(await snapshot(t, id)).toEqual(before);
  });
});

describe('ETag and If-Match', () => {
  test('GET, create and every command answer the strong ETag of the version', async () => {
    const created = await t.post('/api/loans', {
      borrower_id: 'usr_kenya_001',
      amount: '10.00',
      currency: 'KES',
      term_months: 1,
      interest_rate_apr: 0,
    });
    expect(created.headers.get('etag')).toBe('"1"');
    const { id } = (await created.json()) as Loan;
    expect((await t.req(`/api/loans/${id}`)).headers.get('etag')).toBe('"1"');
    const approved = await command(t, id, 'approve');
    expect(approved.headers.get('etag')).toBe('"2"');
    expect((await t.req(`/api/loans/${id}`)).headers.get('etag')).toBe('"2"');
  });

  test.each([
    ['the current ETag', (v: number) => `"${v}"`],
    ['*', () => '*'],
    ['a list with the current ETag in it', (v: number) => `"${v + 5}", "${v}" ,"${v + 9}"`],
    ['a list with a weak tag beside the current strong one', (v: number) => `W/"${v}", "${v}"`],
    ['a list with empty elements (RFC 9110 asks to skip them)', (v: number) => `, "${v + 1}",, "${v}" ,`],
  ])('If-Match with %s: the command runs', async (_what, header) => {
    const id = await loanIn(t, 'approved');
    const version = versionOf((await snapshot(t, id)).etag);
    const response = await command(t, id, 'undo-approval', {}, { 'if-match': header(version) });
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe(`"${version + 1}"`);
  });

  test.each([
    ['a stale ETag', (v: number) => `"${v - 1}"`],
    ['a future ETag', (v: number) => `"${v + 1}"`],
    ['the current version as a weak tag', (v: number) => `W/"${v}"`],
    ['a list of stale tags', (v: number) => `"${v - 1}", "${v + 1}"`],
  ])('If-Match with %s: 412 and nothing changes', async (_what, header) => {
    const id = await loanIn(t, 'approved');
    const before = await snapshot(t, id);
    const version = versionOf(before.etag);
    const problem = await problemOf(
      await command(t, id, 'disburse', {}, { 'if-match': header(version) }),
      412,
    );
    expect(problem.detail).toContain(`"${version}"`);
    expect(await snapshot(t, id)).toEqual(before);
  });

  test('a precondition fails before the status is checked (412 before 409), and a missing loan is 404 first', async () => {
    const id = await loanIn(t, 'rejected');
    await problemOf(await command(t, id, 'approve', {}, { 'if-match': '"99"' }), 412);
    await problemOf(await command(t, id, 'approve', {}, { 'if-match': '*' }), 409);
    await problemOf(await command(t, MISSING_ID, 'approve', {}, { 'if-match': '"1"' }), 404);
  });

  test('a retry with the ETag it read first loses to the change made meanwhile', async () => {
    const id = await loanIn(t, 'approved');
    const { etag } = await snapshot(t, id);
    expect((await command(t, id, 'undo-approval', {}, { 'if-match': etag as string })).status).toBe(200);
    expect((await command(t, id, 'approve', {}, { 'if-match': etag as string })).status).toBe(412);
  });
});

describe('stats', () => {
  test('by_status stays equal to the rows as loans move between statuses', async () => {
    const countsInSql = async () => {
      const rows = await rowsOf<{ status: string; n: number }>(
        t.database.db,
        sql`SELECT status, count(*)::int AS n FROM loans GROUP BY status`,
      );
      return Object.fromEntries(loanStatuses.map((s) => [s, rows.find((r) => r.status === s)?.n ?? 0]));
    };
    const expectStatsExact = async () => {
      const stats = (await (await t.req('/api/stats')).json()) as {
        total_loans: number;
        by_status: Record<string, number>;
      };
      const expected = await countsInSql();
      expect(stats.by_status).toEqual(expected);
      expect(stats.total_loans).toBe(Object.values(expected).reduce((a, b) => a + b, 0));
    };
    const ids = await Promise.all(loanStatuses.map((status) => loanIn(t, status)));
    await expectStatsExact();
    const moves: [number, CommandName][] = [
      [0, 'approve'],
      [1, 'undo-approval'],
      [3, 'undo-disbursal'],
      [3, 'write-off'],
      [0, 'disburse'],
      [0, 'write-off'],
    ];
    for (const [index, name] of moves) {
      await command(t, ids[index] as string, name);
      await expectStatsExact();
    }
  });
});
