import { describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import type { Loan, LoanEvent, Repayment } from '../../../src/modules/loans/model';
import type { StoredRepayment } from '../../../src/modules/loans/repository';
import { devKeys, type TestApp, useListeningTestApp, useTestAppWithoutLoans } from '../../support/app';
import {
  addDays,
  addMonths,
  cents,
  command,
  contractLoan,
  createLoan,
  disbursalWithInstalmentDueOn,
  disbursedLoan,
  expectInvalidAt,
  expectProblem,
  MONEY,
  moneyOf,
  paidParts,
  repay,
  scheduleOf,
  utcDate,
} from '../../support/lending-handlers';
import { rowsOf } from '../../support/lifecycle';

const t = useTestAppWithoutLoans();

const post = (id: string, body: unknown, headers?: Record<string, string>) =>
  t.post(`/api/loans/${id}/repayments`, body, headers);

async function eventsOf(id: string): Promise<LoanEvent[]> {
  return (await (await t.req(`/api/loans/${id}/events`)).json()) as LoanEvent[];
}

/** What a refused repayment must leave untouched: the loan and its ETag, its events, schedule and repayments. */
async function state(id: string) {
  const loan = await t.req(`/api/loans/${id}`);
  const [stored] = await rowsOf<{ n: number }>(
    t.database.db,
    sql`SELECT count(*)::int AS n FROM repayments WHERE loan_id = ${id}`,
  );
  return {
    loan: await loan.text(),
    etag: loan.headers.get('etag'),
    events: (await eventsOf(id)).length,
    schedule: await (await t.req(`/api/loans/${id}/schedule`)).text(),
    repayments: Number(stored?.n),
  };
}

describe('POST /api/loans/:id/repayments', () => {
  test('takes a repayment above the largest loan amount when that much is outstanding', async () => {
    // 50000.00 at 8 % over 360 months owes far more than 50000 in all: paying it off in one go is allowed.
    const loan = await disbursedLoan(t, { amount: '50000.00', term_months: 360, interest_rate_apr: '8.00' });
    const { totals } = await scheduleOf(t, loan.id);
    expect(cents(totals.outstanding)).toBeGreaterThan(cents('50000.00'));
    const repayment = await repay(t, loan.id, { amount: totals.outstanding });
    expect(repayment.outstanding).toBe('0.00');
    expect(((await (await t.req(`/api/loans/${loan.id}`)).json()) as Loan).status).toBe('repaid');
  });

  test('answers 201 with the repayment, its allocation and what is outstanding, at a Location GET serves', async () => {
    const loan = await disbursedLoan(t, {}, addMonths(utcDate(), -3));
    const response = await post(loan.id, { amount: '3000.00' });
    expect(response.status).toBe(201);
    const repayment = (await response.json()) as Repayment;
    expect(Object.keys(repayment).sort()).toEqual(
      ['allocation', 'amount', 'created_at', 'id', 'loan_id', 'outstanding', 'paid_on'].sort(),
    );
    expect(repayment).toMatchObject({
      loan_id: loan.id,
      amount: '3000.00',
      paid_on: utcDate(),
      // 2142.40 clears instalment 1 (interest 240.01 first); the remaining 857.60 pays instalment 2's interest
      // of 201.96, then 655.64 of its principal.
      allocation: [
        { number: 1, interest: '240.01', principal: '1902.39' },
        { number: 2, interest: '201.96', principal: '655.64' },
      ],
      outstanding: '9854.39',
    });
    expect(repayment.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(Date.parse(repayment.created_at) - Date.now())).toBeLessThan(60_000);
    expect(response.headers.get('location')).toBe(`/api/loans/${loan.id}/repayments/${repayment.id}`);

    const served = await t.req(response.headers.get('location') as string);
    expect(served.status).toBe(200);
    const { outstanding, ...stored } = repayment;
    expect(await served.json()).toEqual(stored);
    expect((await scheduleOf(t, loan.id)).totals.outstanding).toBe(outstanding);
  });

  test('allocates to the oldest instalment not fully paid, interest before principal', async () => {
    const loan = await disbursedLoan(t, {}, addDays(addMonths(utcDate(), -3), -5));
    await repay(t, loan.id, { amount: '100.00' });
    const second = await repay(t, loan.id, { amount: '2142.40' });
    expect(second.allocation).toEqual([
      { number: 1, interest: '140.01', principal: '1902.39' },
      { number: 2, interest: '100.00', principal: '0.00' },
    ]);
    const third = await repay(t, loan.id, { amount: 500 });
    expect(third.allocation).toEqual([{ number: 2, interest: '101.96', principal: '398.04' }]);
    const schedule = await scheduleOf(t, loan.id);
    expect(schedule.instalments.slice(0, 3).map(({ paid, status }) => [paid, status])).toEqual([
      ['2142.40', 'paid'],
      ['600.00', 'overdue'],
      ['0.00', 'overdue'],
    ]);
    expect(schedule.totals).toMatchObject({ paid: '2742.40', outstanding: '10111.99' });
  });

  test('paying early pays the scheduled interest of every instalment it reaches', async () => {
    const loan = await disbursedLoan(t);
    const repayment = await repay(t, loan.id, { amount: '5000.00' });
    // Nothing is due yet, and yet each instalment reached is charged its scheduled interest in full.
    expect(repayment.allocation).toEqual([
      { number: 1, interest: '240.01', principal: '1902.39' },
      { number: 2, interest: '201.96', principal: '1940.44' },
      { number: 3, interest: '163.15', principal: '552.05' },
    ]);
    expect(repayment.outstanding).toBe('7854.39');
    const schedule = await scheduleOf(t, loan.id);
    // The schedule itself does not change: the later instalments keep their interest.
    expect(schedule.instalments.map((row) => row.interest)).toEqual([
      '240.01',
      '201.96',
      '163.15',
      '123.57',
      '83.19',
      '42.01',
    ]);
    expect(schedule.instalments.map((row) => row.status)).toEqual([
      'paid',
      'paid',
      'upcoming',
      'upcoming',
      'upcoming',
      'upcoming',
    ]);
    expect(schedule.next_due_on).toBe(schedule.instalments[2]?.due_on as string);
  });

  test('reads a JSON number amount from its digits, and answers money with two places', async () => {
    const loan = await disbursedLoan(t);
    const repayment = await repay(t, loan.id, { amount: 2142.4 });
    expect(repayment.amount).toBe('2142.40');
    for (const part of repayment.allocation) {
      expect(part.interest).toMatch(MONEY);
      expect(part.principal).toMatch(MONEY);
    }
    expect(repayment.outstanding).toMatch(MONEY);
  });

  test('in a currency with no minor unit, whole amounts with zero decimals are accepted, money has two places', async () => {
    const loan = await disbursedLoan(t, { currency: 'VND', amount: '8400.00', term_months: 12 });
    const repayment = await repay(t, loan.id, { amount: '1000.00' });
    expect(repayment.amount).toBe('1000.00');
    for (const part of repayment.allocation) {
      expect(part.interest).toMatch(/^\d+\.00$/);
      expect(part.principal).toMatch(/^\d+\.00$/);
    }
    expect(repayment.outstanding).toMatch(/^\d+\.00$/);
  });

  test('turns the loan repaid exactly when nothing is outstanding, with a repaid event after the repayment', async () => {
    const loan = await disbursedLoan(t, {}, addMonths(utcDate(), -1));
    const almost = await repay(t, loan.id, { amount: '12854.38' });
    expect(almost.outstanding).toBe('0.01');
    const stillDisbursed = (await (await t.req(`/api/loans/${loan.id}`)).json()) as Loan;
    expect(stillDisbursed.status).toBe('disbursed');
    expect((await eventsOf(loan.id)).at(-1)?.type).toBe('repayment');

    const last = await repay(t, loan.id, { amount: '0.01' });
    expect(last.outstanding).toBe('0.00');
    expect(last.allocation).toEqual([{ number: 6, interest: '0.00', principal: '0.01' }]);
    const repaid = (await (await t.req(`/api/loans/${loan.id}`)).json()) as Loan;
    expect(repaid.status).toBe('repaid');
    const events = await eventsOf(loan.id);
    expect(
      events
        .slice(-2)
        .map(({ type, from_status, to_status, amount }) => ({ type, from_status, to_status, amount })),
    ).toEqual([
      { type: 'repayment', from_status: 'disbursed', to_status: 'disbursed', amount: '0.01' },
      { type: 'repaid', from_status: 'disbursed', to_status: 'repaid', amount: null },
    ]);
    expect(events.filter((event) => event.type === 'repayment')).toHaveLength(2);
    const problem = await expectProblem(await post(loan.id, { amount: '1.00' }), 409);
    expect(problem.detail).toContain('repaid');
  });

  test('raises the loan version, and honours If-Match', async () => {
    const loan = await disbursedLoan(t);
    const before = (await t.req(`/api/loans/${loan.id}`)).headers.get('etag') as string;
    const stale = await post(loan.id, { amount: '10.00' }, { 'if-match': '"1"' });
    await expectProblem(stale, 412);
    expect((await state(loan.id)).repayments).toBe(0);
    expect((await post(loan.id, { amount: '10.00' }, { 'if-match': before })).status).toBe(201);
    const after = (await t.req(`/api/loans/${loan.id}`)).headers.get('etag') as string;
    expect(Number(JSON.parse(after))).toBeGreaterThan(Number(JSON.parse(before)));
    await expectProblem(await post(loan.id, { amount: '10.00' }, { 'if-match': before }), 412);
  });

  test('replays a repayment sent again with the same Idempotency-Key, storing it once', async () => {
    const loan = await disbursedLoan(t);
    const headers = { 'idempotency-key': 'repay-once' };
    const first = await post(loan.id, { amount: '100.00' }, headers);
    const again = await post(loan.id, { amount: '100.00' }, headers);
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(await again.json()).toEqual(await first.json());
    expect((await state(loan.id)).repayments).toBe(1);
  });
});

describe('refused repayments: 422 with nothing stored', () => {
  const refusedAmounts: [string, unknown, string][] = [
    ['zero', '0', 'INR'],
    ['zero as a number', 0, 'INR'],
    ['negative', '-5.00', 'INR'],
    ['negative as a number', -5, 'INR'],
    ['three decimals', '10.005', 'INR'],
    ['decimals a zero-decimal currency does not have', '100.50', 'VND'],
    ['a fraction of a zero-decimal currency', '0.50', 'VND'],
    ['not a number', 'ten', 'INR'],
  ];
  test.each(refusedAmounts)('amount %s (%p in %s)', async (_, amount, currency) => {
    const loan = await disbursedLoan(t, { currency, amount: '12000.00' });
    const before = await state(loan.id);
    const message = await expectInvalidAt(await post(loan.id, { amount }), '/amount');
    if (currency === 'VND') expect(message).toContain('VND');
    expect(await state(loan.id)).toEqual(before);
  });

  test('an amount above the outstanding total, naming both', async () => {
    const loan = await disbursedLoan(t);
    await repay(t, loan.id, { amount: '854.39' });
    const before = await state(loan.id);
    const message = await expectInvalidAt(await post(loan.id, { amount: '12000.01' }), '/amount');
    expect(message).toContain('12000.01');
    expect(message).toContain('12000.00');
    expect(await state(loan.id)).toEqual(before);
    // Exactly the outstanding total is fine.
    expect((await repay(t, loan.id, { amount: '12000.00' })).outstanding).toBe('0.00');
  });

  test('an amount and paid_on missing or extra fields', async () => {
    const loan = await disbursedLoan(t);
    const before = await state(loan.id);
    await expectInvalidAt(await post(loan.id, {}), '/amount');
    await expectProblem(await post(loan.id, { amount: '1.00', currency: 'INR' }), 422);
    await expectProblem(await post(loan.id, []), 422);
    expect(await state(loan.id)).toEqual(before);
  });

  test('paid_on in the future, not a calendar date, before the disbursal, before the latest repayment', async () => {
    const today = utcDate();
    const disbursedOn = addMonths(today, -2);
    const loan = await disbursedLoan(t, {}, disbursedOn);
    const at = (paidOn: string) => post(loan.id, { amount: '100.00', paid_on: paidOn });
    let before = await state(loan.id);
    expect(await expectInvalidAt(await at(addDays(today, 1)), '/paid_on')).toContain(today);
    await expectInvalidAt(await at('2026-02-30'), '/paid_on');
    await expectInvalidAt(await at('yesterday'), '/paid_on');
    expect(await expectInvalidAt(await at(addDays(disbursedOn, -1)), '/paid_on')).toContain(disbursedOn);
    expect(await state(loan.id)).toEqual(before);

    // On the disbursal day itself is fine; then one dated later sets the floor for the next.
    expect((await at(disbursedOn)).status).toBe(201);
    const latest = addDays(disbursedOn, 20);
    expect((await at(latest)).status).toBe(201);
    before = await state(loan.id);
    expect(await expectInvalidAt(await at(addDays(latest, -1)), '/paid_on')).toContain(latest);
    expect(await state(loan.id)).toEqual(before);
    expect((await at(latest)).status).toBe(201);
    expect((await at(today)).status).toBe(201);
  });
});

describe('who may repay, and on which loan', () => {
  test.each(['pending', 'approved', 'rejected', 'defaulted'] as const)(
    'a %s loan: 409 naming its status',
    async (status) => {
      const loan = await createLoan(t);
      if (status === 'rejected') await command(t, loan.id, 'reject', { reason: 'No income' });
      if (status !== 'pending' && status !== 'rejected') await command(t, loan.id, 'approve');
      if (status === 'defaulted') {
        await command(t, loan.id, 'disburse');
        await command(t, loan.id, 'write-off', { reason: 'Borrower unreachable' });
      }
      const before = await state(loan.id);
      const problem = await expectProblem(await post(loan.id, { amount: '100.00' }), 409);
      expect(problem.detail).toContain(status);
      expect(await state(loan.id)).toEqual(before);
    },
  );

  test("a borrower gets 403 on their own loan and 404 on another's, as for no loan", async () => {
    const own = await disbursedLoan(t, { borrower_id: 'usr_kenya_001' });
    const theirs = await disbursedLoan(t);
    const borrower = t.as(devKeys.borrower);
    await expectProblem(await borrower.post(`/api/loans/${own.id}/repayments`, { amount: '100.00' }), 403);
    await expectProblem(await borrower.post(`/api/loans/${theirs.id}/repayments`, { amount: '100.00' }), 404);
    const absent = '00000000-0000-4000-8000-000000000999';
    await expectProblem(await borrower.post(`/api/loans/${absent}/repayments`, { amount: '100.00' }), 404);
    expect((await state(own.id)).repayments).toBe(0);
    // The borrower may read their own loan's repayments, and not another's.
    await repay(t, own.id, { amount: '100.00' });
    expect(((await (await borrower.req(`/api/loans/${own.id}/repayments`)).json()) as unknown[]).length).toBe(
      1,
    );
    await expectProblem(await borrower.req(`/api/loans/${theirs.id}/repayments`), 404);
    // An admin may do what an officer does.
    expect(
      (await t.as(devKeys.admin).post(`/api/loans/${own.id}/repayments`, { amount: '1.00' })).status,
    ).toBe(201);
  });
});

describe('GET /api/loans/:id/repayments', () => {
  test('lists the repayments oldest first, each as GET serves it alone', async () => {
    const loan = await disbursedLoan(t, {}, addMonths(utcDate(), -2));
    expect(await (await t.req(`/api/loans/${loan.id}/repayments`)).json()).toEqual([]);
    const posted = [];
    for (const amount of ['100.00', '200.00', '300.00']) posted.push(await repay(t, loan.id, { amount }));
    const list = (await (await t.req(`/api/loans/${loan.id}/repayments`)).json()) as StoredRepayment[];
    expect(list).toEqual(posted.map(({ outstanding, ...stored }) => stored));
    for (const repayment of list) {
      const one = await t.req(`/api/loans/${loan.id}/repayments/${repayment.id}`);
      expect(await one.json()).toEqual(repayment);
    }
  });

  test('an unknown repayment, or one of another loan, is 404', async () => {
    const loan = await disbursedLoan(t);
    const other = await disbursedLoan(t);
    const repayment = await repay(t, loan.id, { amount: '100.00' });
    await expectProblem(await t.req(`/api/loans/${other.id}/repayments/${repayment.id}`), 404);
    await expectProblem(
      await t.req(`/api/loans/${loan.id}/repayments/00000000-0000-4000-8000-000000000999`),
      404,
    );
    await expectProblem(await t.req(`/api/loans/${loan.id}/repayments/not-a-uuid`), 400);
  });
});

describe('repayments and the lifecycle', () => {
  test('undo-disbursal is allowed before any repayment, discarding the schedule, and refused (409) after one', async () => {
    const today = utcDate();
    const loan = await disbursedLoan(t, {}, addMonths(today, -1));
    const undone = await command(t, loan.id, 'undo-disbursal');
    expect(undone).toMatchObject({ status: 'approved', disbursed_on: null });
    const [left] = await rowsOf<{ n: number }>(
      t.database.db,
      sql`SELECT count(*)::int AS n FROM instalments WHERE loan_id = ${loan.id}`,
    );
    expect(Number(left?.n)).toBe(0);
    // Back to a projection from today.
    const projection = await scheduleOf(t, loan.id);
    expect(projection.instalments[0]?.due_on).toBe(addMonths(today, 1));
    await expectProblem(await post(loan.id, { amount: '100.00' }), 409);

    await command(t, loan.id, 'disburse', { disbursed_on: addMonths(today, -2) });
    await repay(t, loan.id, { amount: '100.00' });
    const refused = await t.post(`/api/loans/${loan.id}/undo-disbursal`, {});
    const problem = await expectProblem(refused, 409);
    expect(problem.detail).toContain('repayment');
    const kept = (await (await t.req(`/api/loans/${loan.id}`)).json()) as Loan;
    expect(kept).toMatchObject({ status: 'disbursed', disbursed_on: addMonths(today, -2) });
  });

  test('write-off records the outstanding principal plus the unpaid interest of instalments due on or before today', async () => {
    const today = utcDate();
    // Instalments up to the months-th are due, the last of them today itself; a little interest is paid.
    const { disbursedOn, months } = disbursalWithInstalmentDueOn(today);
    const loan = await disbursedLoan(t, { term_months: 12 }, disbursedOn);
    await repay(t, loan.id, { amount: '100.00' });
    const schedule = await scheduleOf(t, loan.id);
    expect(schedule.instalments[months - 1]?.due_on).toBe(today);
    const writtenOff = (dueBy: (dueOn: string) => boolean) =>
      moneyOf(
        schedule.instalments.reduce((total, row) => {
          const paid = paidParts(row);
          const principal = cents(row.principal) - paid.principal;
          const interest = dueBy(row.due_on) ? cents(row.interest) - paid.interest : 0n;
          return total + principal + interest;
        }, 0n),
      );
    const expected = writtenOff((dueOn) => dueOn <= today);
    // Today's instalment counts, and interest not yet due does not.
    expect(expected).not.toBe(writtenOff((dueOn) => dueOn < today));
    expect(expected).not.toBe(schedule.totals.outstanding);

    const defaulted = await command(t, loan.id, 'write-off', { reason: 'Borrower unreachable' });
    expect(defaulted.status).toBe('defaulted');
    const event = (await eventsOf(loan.id)).at(-1);
    expect(event).toMatchObject({
      type: 'written_off',
      from_status: 'disbursed',
      to_status: 'defaulted',
      amount: expected,
    });
    // The schedule stays readable, as it was.
    expect((await scheduleOf(t, loan.id)).totals).toEqual(schedule.totals);
  });
});

describe('loans disbursed before v2, with no stored schedule', () => {
  /** A disbursed loan written straight into the table, as the v2 migration leaves one: no instalments. */
  async function legacyDisbursed(
    disbursedOn: string,
    terms: { term_months: number | null; apr: string | null },
  ) {
    const [row] = await rowsOf<{ id: string }>(
      t.database.db,
      sql`INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr, status, disbursed_on)
          VALUES ('usr_legacy_001', '12000.50', 'INR', ${terms.term_months}, ${terms.apr}, 'disbursed', ${disbursedOn})
          RETURNING id`,
    );
    return row?.id as string;
  }

  test('a repayment fixes the schedule from the disbursal date and allocates on it', async () => {
    const disbursedOn = addDays(addMonths(utcDate(), -2), -3);
    const id = await legacyDisbursed(disbursedOn, { term_months: 6, apr: '24.00' });
    const repayment = await repay(t, id, { amount: '3000.00' });
    expect(repayment.allocation).toEqual([
      { number: 1, interest: '240.01', principal: '1902.39' },
      { number: 2, interest: '201.96', principal: '655.64' },
    ]);
    const schedule = await scheduleOf(t, id);
    expect(schedule.instalments[0]?.due_on).toBe(addMonths(disbursedOn, 1));
    expect(schedule.totals).toMatchObject({ paid: '3000.00', outstanding: '9854.39' });
  });

  test('write-off counts the schedule from the disbursal date, or the whole amount when there is no term', async () => {
    const today = utcDate();
    const disbursedOn = addDays(addMonths(today, -2), -3);
    const id = await legacyDisbursed(disbursedOn, { term_months: 6, apr: '24.00' });
    const schedule = await scheduleOf(t, id);
    // Nothing paid: all the principal, and the interest of the two instalments already due.
    const expected = moneyOf(
      schedule.instalments.reduce(
        (total, row) => total + cents(row.principal) + (row.due_on <= today ? cents(row.interest) : 0n),
        0n,
      ),
    );
    expect(expected).toBe('12442.47');
    await command(t, id, 'write-off', { reason: 'Borrower unreachable' });
    expect((await eventsOf(id)).at(-1)).toMatchObject({ type: 'written_off', amount: expected });

    const bare = await legacyDisbursed(disbursedOn, { term_months: null, apr: null });
    await command(t, bare, 'write-off', { reason: 'Borrower unreachable' });
    expect((await eventsOf(bare)).at(-1)).toMatchObject({ type: 'written_off', amount: '12000.50' });
  });
});

describe('concurrent repayments on real connections', () => {
  const served = useListeningTestApp();

  test('two that together overpay: one 201 and one 422, and only the first is stored', async () => {
    const send = (id: string) =>
      fetch(`${served.url}/api/loans/${id}/repayments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${devKeys.officer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ amount: '7000.00' }),
      });
    for (let round = 0; round < 4; round++) {
      const loan = await disbursedLoan(served as TestApp, contractLoan);
      const answers = await Promise.all([send(loan.id), send(loan.id)]);
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 422]);
      const refused = answers.find((answer) => answer.status === 422) as Response;
      expect(await expectInvalidAt(refused, '/amount')).toContain('5854.39');
      const schedule = await scheduleOf(served, loan.id);
      expect(schedule.totals).toMatchObject({ paid: '7000.00', outstanding: '5854.39' });
      const stored = await rowsOf<{ n: number }>(
        served.database.db,
        sql`SELECT count(*)::int AS n FROM repayments WHERE loan_id = ${loan.id}`,
      );
      expect(Number(stored[0]?.n)).toBe(1);
    }
  });
});
