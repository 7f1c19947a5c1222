import { describe, expect, test } from 'bun:test';
import { type SQL, sql } from 'drizzle-orm';
import { businessClock } from '../../src/clock';
import type { LoanEvent, LoanSchedule } from '../../src/modules/loans/model';
import { devKeys, useTestApp } from '../support/app';
import {
  actorOf,
  command,
  createLoan,
  eventsOf,
  loanIn,
  problemOf,
  repayInFull,
  rowsOf,
} from '../support/lifecycle';

const t = useTestApp();

const today = () => businessClock('UTC').today();
const daysAgo = (days: number) =>
  businessClock('UTC', () => new Date(Date.now() - days * 86_400_000)).today();
// Whole cents as integers: exact, and never a fraction through a float.
const cents = (money: string) => Number(money.replace('.', ''));
const money = (value: number) => {
  const digits = value.toString().padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
};

/** The SQLSTATE and message Postgres refused a statement with, or undefined when it ran. */
async function refusalOf(query: SQL): Promise<{ code?: string; message: string } | undefined> {
  try {
    await t.database.db.execute(query);
    return undefined;
  } catch (error) {
    for (let e: unknown = error; e instanceof Error; e = e.cause) {
      const code = (e as { code?: string }).code;
      if (code) return { code, message: e.message };
    }
    throw error;
  }
}

const storedEvents = () =>
  rowsOf<Record<string, unknown>>(t.database.db, sql`SELECT * FROM loan_events ORDER BY id`);

describe('the audit trail is append-only, even through plain SQL as the table owner', () => {
  test.each([
    ['UPDATE', sql`UPDATE loan_events SET reason = 'rewritten'`],
    ['UPDATE of one row', sql`UPDATE loan_events SET actor = 'someone else' WHERE type = 'created'`],
    ['DELETE', sql`DELETE FROM loan_events`],
    ['DELETE of one row', sql`DELETE FROM loan_events WHERE type = 'approved'`],
    ['TRUNCATE', sql`TRUNCATE loan_events`],
    ['TRUNCATE … CASCADE', sql`TRUNCATE loan_events CASCADE`],
  ])('%s is refused and every event stays as it was', async (_what, statement) => {
    await loanIn(t, 'approved');
    const before = await storedEvents();
    expect(before.length).toBeGreaterThanOrEqual(2);
    const refusal = await refusalOf(statement);
    expect(refusal?.code).toBe('42501');
    expect(refusal?.message).toContain('append-only');
    expect(await storedEvents()).toEqual(before);
  });

  test('INSERT is allowed: the trail only grows', async () => {
    const id = await loanIn(t, 'pending');
    await t.database.db.execute(
      sql`INSERT INTO loan_events (loan_id, type, from_status, to_status, actor) VALUES (${id}, 'amended', 'pending', 'pending', 'system')`,
    );
    expect((await eventsOf(t, id)).map((event) => event.type)).toEqual(['created', 'amended']);
  });
});

describe("a loan's events tell its whole story, in order", () => {
  test('create, approve, undo, approve, back-dated disbursal, repayments until repaid', async () => {
    const disbursedOn = daysAgo(40);
    const officer = t.as(devKeys.officer);
    const officer2 = t.as(devKeys.officer2);
    const borrower = t.as(devKeys.borrower);

    const created = await borrower.post(
      '/api/loans',
      {
        borrower_id: 'usr_kenya_001',
        amount: '1200.00',
        currency: 'KES',
        term_months: 6,
        interest_rate_apr: 12,
      },
      { 'x-request-id': 'walk-create' },
    );
    const { id } = (await created.json()) as { id: string };
    const steps: [typeof officer, string, unknown, string][] = [
      [officer, 'approve', { reason: 'income verified' }, 'walk-approve'],
      [officer2, 'undo-approval', { reason: 'documents expired' }, 'walk-undo'],
      [officer2, 'approve', {}, 'walk-approve-again'],
      [officer, 'disburse', { disbursed_on: disbursedOn }, 'walk-disburse'],
    ];
    for (const [client, name, body, requestId] of steps) {
      const response = await client.post(`/api/loans/${id}/${name}`, body, { 'x-request-id': requestId });
      expect(response.status).toBe(200);
    }
    const partial = await officer.post(
      `/api/loans/${id}/repayments`,
      { amount: '300.00', paid_on: today() },
      { 'x-request-id': 'walk-repay-1' },
    );
    expect(partial.status).toBe(201);
    const { totals } = (await (await t.req(`/api/loans/${id}/schedule`)).json()) as LoanSchedule;
    expect((await repayInFull(officer2, id, { 'x-request-id': 'walk-repay-2' })).status).toBe(201);

    const events = await eventsOf(borrower, id);
    const officerId = actorOf(devKeys.officer);
    const officer2Id = actorOf(devKeys.officer2);
    const expected: Partial<LoanEvent>[] = [
      {
        type: 'created',
        from_status: null,
        to_status: 'pending',
        actor: actorOf(devKeys.borrower),
        request_id: 'walk-create',
        reason: null,
        amount: null,
      },
      {
        type: 'approved',
        from_status: 'pending',
        to_status: 'approved',
        actor: officerId,
        request_id: 'walk-approve',
        reason: 'income verified',
        amount: null,
      },
      {
        type: 'approval_undone',
        from_status: 'approved',
        to_status: 'pending',
        actor: officer2Id,
        request_id: 'walk-undo',
        reason: 'documents expired',
        amount: null,
      },
      {
        type: 'approved',
        from_status: 'pending',
        to_status: 'approved',
        actor: officer2Id,
        request_id: 'walk-approve-again',
        reason: null,
        amount: null,
      },
      {
        type: 'disbursed',
        from_status: 'approved',
        to_status: 'disbursed',
        actor: officerId,
        request_id: 'walk-disburse',
        // The event is recorded now; the back-dating is said in its reason.
        reason: `Back-dated: disbursed on ${disbursedOn}`,
        amount: '1200.00',
      },
      {
        type: 'repayment',
        from_status: 'disbursed',
        to_status: 'disbursed',
        actor: officerId,
        request_id: 'walk-repay-1',
        reason: null,
        amount: '300.00',
      },
      {
        type: 'repayment',
        from_status: 'disbursed',
        to_status: 'disbursed',
        actor: officer2Id,
        request_id: 'walk-repay-2',
        reason: null,
        amount: totals.outstanding,
      },
      {
        type: 'repaid',
        from_status: 'disbursed',
        to_status: 'repaid',
        actor: officer2Id,
        request_id: 'walk-repay-2',
        reason: null,
        amount: null,
      },
    ];
    expect(events).toMatchObject(expected);
    expect(events).toHaveLength(expected.length);
    const ids = events.map((event) => event.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    for (const event of events) expect(Math.abs(Date.parse(event.at) - Date.now())).toBeLessThan(120_000);
  });

  test('a write-off records what is written off: the outstanding principal and the interest already due', async () => {
    const { id } = await createLoan(t);
    expect((await command(t, id, 'approve')).status).toBe(200);
    expect((await command(t, id, 'disburse', { disbursed_on: daysAgo(75) })).status).toBe(200);
    expect((await t.post(`/api/loans/${id}/repayments`, { amount: '150.00' })).status).toBe(201);
    const schedule = (await (await t.req(`/api/loans/${id}/schedule`)).json()) as LoanSchedule;
    // Interest is paid first, so an instalment's unpaid interest is what its payments have not covered.
    let principal = 0;
    let interestDue = 0;
    for (const instalment of schedule.instalments) {
      const paid = cents(instalment.paid);
      const interest = cents(instalment.interest);
      const paidInterest = Math.min(paid, interest);
      principal += cents(instalment.principal) - (paid - paidInterest);
      if (instalment.due_on <= today()) interestDue += interest - paidInterest;
    }
    expect(interestDue).toBeGreaterThan(0);

    const response = await command(
      t,
      id,
      'write-off',
      { reason: 'borrower unreachable' },
      { 'x-request-id': 'walk-write-off' },
    );
    expect(response.status).toBe(200);
    expect((await eventsOf(t, id)).at(-1)).toMatchObject({
      type: 'written_off',
      from_status: 'disbursed',
      to_status: 'defaulted',
      actor: actorOf(devKeys.officer),
      request_id: 'walk-write-off',
      reason: 'borrower unreachable',
      amount: money(principal + interestDue),
    });
  });

  test('a disbursal undone, and a rejection, carry no amount', async () => {
    const disbursed = await loanIn(t, 'disbursed');
    expect((await command(t, disbursed, 'undo-disbursal', { reason: 'wrong account' })).status).toBe(200);
    const rejected = await loanIn(t, 'rejected');
    expect(
      (await eventsOf(t, disbursed)).map(({ type, amount, reason }) => ({ type, amount, reason })),
    ).toEqual([
      { type: 'created', amount: null, reason: null },
      { type: 'approved', amount: null, reason: 'approve: checked by the test' },
      { type: 'disbursed', amount: '1200.00', reason: null },
      { type: 'disbursal_undone', amount: null, reason: 'wrong account' },
    ]);
    expect((await eventsOf(t, rejected)).at(-1)).toMatchObject({
      type: 'rejected',
      amount: null,
      reason: 'reject: checked by the test',
    });
  });

  test('events are ordered by their sequence, not by their time', async () => {
    const id = await loanIn(t, 'approved');
    // The owner lifts the trigger to rewrite history the way a skewed clock would; the API still answers in order.
    await t.database.db.execute(sql`ALTER TABLE loan_events DISABLE TRIGGER loan_events_append_only`);
    try {
      await t.database.db.execute(
        sql`UPDATE loan_events SET at = now() + interval '1 day' WHERE loan_id = ${id} AND type = 'created'`,
      );
    } finally {
      await t.database.db.execute(sql`ALTER TABLE loan_events ENABLE TRIGGER loan_events_append_only`);
    }
    const events = await eventsOf(t, id);
    expect(events.map((event) => event.type)).toEqual(['created', 'approved']);
    expect(Date.parse(events[0]?.at as string)).toBeGreaterThan(Date.parse(events[1]?.at as string));
  });

  test("a borrower reads their own loan's events; another borrower's answers 404", async () => {
    const id = await loanIn(t, 'approved', { borrower_id: 'usr_india_002' });
    expect(await eventsOf(t.as(devKeys.borrower2), id)).toHaveLength(2);
    await problemOf(await t.as(devKeys.borrower).req(`/api/loans/${id}/events`), 404);
  });
});
