import { describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import type { Loan } from '../../../src/modules/loans/model';
import { useTestAppWithoutLoans } from '../../support/app';

const t = useTestAppWithoutLoans();

const valid = { borrower_id: 'usr_india_999', amount: '12000.50', currency: 'INR', term_months: 6 };

async function create(body: Record<string, unknown> = valid): Promise<Loan> {
  const response = await t.post('/api/loans', body);
  expect(response.status).toBe(201);
  return (await response.json()) as Loan;
}

async function expectProblem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toStartWith('application/problem+json');
  const problem = (await response.json()) as { detail: string; errors?: { path: string; message: string }[] };
  expect(problem).toMatchObject({
    status,
    type: expect.stringContaining('/problems/'),
    title: expect.any(String),
  });
  expect(problem.detail).toBeString();
  return problem;
}

async function countLoans(): Promise<number> {
  const [row] = await t.database.db
    .execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM loans`)
    .then((r) => (Array.isArray(r) ? r : (r as unknown as { rows: { n: number }[] }).rows));
  return row?.n ?? -1;
}

describe('POST /api/loans', () => {
  test('creates a pending loan and points Location at it', async () => {
    const response = await t.post('/api/loans', { ...valid, currency: 'inr', interest_rate_apr: 24 });
    expect(response.status).toBe(201);
    const loan = (await response.json()) as Loan;
    expect(response.headers.get('location')).toBe(`/api/loans/${loan.id}`);
    expect(loan).toMatchObject({
      borrower_id: 'usr_india_999',
      amount: '12000.50',
      currency: 'INR',
      status: 'pending',
      term_months: 6,
      interest_rate_apr: '24.00',
    });
    expect(loan.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(loan.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(loan.updated_at).toBe(loan.created_at);
    expect(Math.abs(Date.parse(loan.created_at) - Date.now())).toBeLessThan(60_000);
  });

  test('leaves the optional term and rate null when they are not given', async () => {
    const loan = await create({ borrower_id: 'b', amount: 1, currency: 'KES' });
    expect(loan.term_months).toBeNull();
    expect(loan.interest_rate_apr).toBeNull();
  });

  test.each([
    [0.1, '0.10'],
    ['0.10', '0.10'],
    [49999.99, '49999.99'],
    ['250.5', '250.50'],
    [50000, '50000.00'],
    ['50000.00', '50000.00'],
    [0.01, '0.01'],
    [1234.5, '1234.50'],
  ])('keeps the amount %p exact as %p', async (amount, expected) => {
    const loan = await create({ ...valid, amount });
    expect(loan.amount).toBe(expected);
    const read = await t.req(`/api/loans/${loan.id}`);
    expect(((await read.json()) as Loan).amount).toBe(expected);
  });

  test('reads a JSON number from its digits, not through a float', async () => {
    // As a float this is exactly 1; as written it has eighteen decimals and must be refused.
    const response = await t.post(
      '/api/loans',
      '{"borrower_id":"b","amount":1.000000000000000001,"currency":"INR"}',
    );
    const problem = await expectProblem(response, 422);
    expect(problem.errors?.[0]?.path).toBe('/amount');
    expect(await countLoans()).toBe(0);
  });

  test.each([
    ['an amount with three decimals', { amount: '10.005' }, '/amount'],
    ['an amount number with three decimals', { amount: 10.005 }, '/amount'],
    ['a zero amount', { amount: 0 }, '/amount'],
    ['a negative amount', { amount: '-5.00' }, '/amount'],
    ['an amount over 50000', { amount: '50000.01' }, '/amount'],
    ['an amount in exponent notation', { amount: 1e3 + 0.5, raw: '1.0005e3' }, '/amount'],
    ['an amount that is not a number', { amount: 'ten' }, '/amount'],
    ['an amount with a thousands separator', { amount: '1,000.00' }, '/amount'],
    ['an empty borrower_id', { borrower_id: '' }, '/borrower_id'],
    ['a borrower_id of 129 characters', { borrower_id: 'x'.repeat(129) }, '/borrower_id'],
    ['a borrower_id with a control character', { borrower_id: 'usr\u0007bell' }, '/borrower_id'],
    ['a currency of four letters', { currency: 'EURO' }, '/currency'],
    ['a currency with digits', { currency: 'U5D' }, '/currency'],
    ['a term of 0 months', { term_months: 0 }, '/term_months'],
    ['a term of 361 months', { term_months: 361 }, '/term_months'],
    ['a fractional term', { term_months: 6.5 }, '/term_months'],
    ['an interest rate over 100', { interest_rate_apr: '100.01' }, '/interest_rate_apr'],
    ['an interest rate with three decimals', { interest_rate_apr: 12.345 }, '/interest_rate_apr'],
    ['a negative interest rate', { interest_rate_apr: -1 }, '/interest_rate_apr'],
    ['a client-chosen status', { status: 'approved' }, '/status'],
    ['a client-chosen id', { id: '6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10' }, '/id'],
    ['a client-chosen created_at', { created_at: '2020-01-01T00:00:00.000Z' }, '/created_at'],
  ])('refuses %s with 422 naming the field, and stores nothing', async (_name, change, path) => {
    const { raw, ...fields } = change as Record<string, unknown> & { raw?: string };
    const body = JSON.stringify({ ...valid, ...fields });
    const response = await t.post(
      '/api/loans',
      raw ? body.replace(/"amount":[^,}]+/, `"amount":${raw}`) : body,
    );
    const problem = await expectProblem(response, 422);
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    expect(problem.errors?.every((e) => e.message.length > 0)).toBeTrue();
    expect(await countLoans()).toBe(0);
  });

  test('names every missing field at once', async () => {
    const problem = await expectProblem(await t.post('/api/loans', {}), 422);
    expect(problem.errors?.map((e) => e.path).sort()).toEqual(['/amount', '/borrower_id', '/currency']);
    expect(problem.errors?.find((e) => e.path === '/amount')?.message).toBe('amount is required');
  });

  test('does not echo what the client sent back in the error', async () => {
    const secret = 'my-card-4111111111111111';
    const response = await t.post('/api/loans', { ...valid, amount: secret });
    expect(await response.text()).not.toContain(secret);
  });

  test.each([
    ['a body that is not JSON', '{"borrower_id": "b", '],
    ['an empty body', ''],
  ])('answers %s with 400', async (_name, body) => {
    await expectProblem(await t.post('/api/loans', body), 400);
    expect(await countLoans()).toBe(0);
  });

  test('answers a JSON array or string body with 422', async () => {
    await expectProblem(await t.post('/api/loans', '[1,2]'), 422);
    await expectProblem(await t.post('/api/loans', '"loan"'), 422);
  });

  test.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['form data', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['no content type', {}],
  ])('answers %s with 415', async (_name, headers) => {
    const response = await t.req('/api/loans', { method: 'POST', headers, body: JSON.stringify(valid) });
    await expectProblem(response, 415);
    expect(await countLoans()).toBe(0);
  });

  test('accepts application/json with a charset', async () => {
    const response = await t.post('/api/loans', valid, { 'content-type': 'application/json; charset=utf-8' });
    expect(response.status).toBe(201);
  });

  test('answers a body over 64 KiB with 413', async () => {
    const big = JSON.stringify({ ...valid, borrower_id: 'x'.repeat(70 * 1024) });
    await expectProblem(await t.post('/api/loans', big), 413);
    expect(await countLoans()).toBe(0);
  });

  test('answers a chunked body over 64 KiB with 413', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(16 * 1024));
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 6; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await t.req('/api/loans', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await expectProblem(response, 413);
  });
});

describe('GET /api/loans/:id', () => {
  test('returns the loan', async () => {
    const created = await create();
    const response = await t.req(`/api/loans/${created.id}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(created);
  });

  test('answers 404 for a UUID no loan has', async () => {
    const problem = await expectProblem(await t.req('/api/loans/6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10'), 404);
    expect(problem.detail).toContain('6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10');
  });

  test.each(['abc', '123', '6f1c1f9e0b7e4d8c9a572f4a1c3b9e10x', "1' OR '1'='1"])(
    'answers 400 for the id %p',
    async (id) => {
      const problem = await expectProblem(await t.req(`/api/loans/${encodeURIComponent(id)}`), 400);
      expect(problem.errors?.[0]?.path).toBe('/id');
    },
  );
});

describe('GET /api/loans', () => {
  test('lists loans in every status when no ?status= is given', async () => {
    const pending = await create();
    const rejected = await create();
    const reject = await t.post(`/api/loans/${rejected.id}/reject`, { reason: 'not today' });
    expect(reject.status).toBe(200);
    const listed = (await (await t.req('/api/loans')).json()) as Loan[];
    expect(listed.map((loan) => [loan.id, loan.status])).toEqual([
      [rejected.id, 'rejected'],
      [pending.id, 'pending'],
    ]);
  });

  const page = async (url: string) => {
    const response = await t.req(url);
    expect(response.status).toBe(200);
    const next = response.headers.get('link')?.match(/^<([^>]+)>; rel="next"$/)?.[1];
    return { loans: (await response.json()) as Loan[], next };
  };

  test('returns an empty array and no Link when there are no loans', async () => {
    const { loans, next } = await page('/api/loans');
    expect(loans).toEqual([]);
    expect(next).toBeUndefined();
  });

  test('lists newest first, 50 by default', async () => {
    for (let i = 0; i < 3; i++) await create({ ...valid, borrower_id: `b${i}` });
    const { loans } = await page('/api/loans');
    expect(loans.map((l) => l.borrower_id)).toEqual(['b2', 'b1', 'b0']);

    await t.database.db.execute(
      sql`INSERT INTO loans (borrower_id, amount, currency) SELECT 'bulk', 1, 'USD' FROM generate_series(1, 60)`,
    );
    expect((await page('/api/loans')).loans).toHaveLength(50);
  });

  test('pages through every loan exactly once, across rows created in the same millisecond', async () => {
    // 45 rows share one timestamp (one statement), so page edges fall between rows with equal created_at.
    await t.database.db.execute(
      sql`INSERT INTO loans (borrower_id, amount, currency, created_at)
          SELECT 'same_ms_' || i, i, 'USD', '2026-01-01T00:00:00.123Z' FROM generate_series(1, 45) AS i`,
    );
    await t.database.db.execute(
      sql`INSERT INTO loans (borrower_id, amount, currency, created_at)
          SELECT 'spread_' || i, i, 'KES', '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 microsecond'
          FROM generate_series(1, 12) AS i`,
    );
    const seen: Loan[] = [];
    let url: string | undefined = '/api/loans?limit=7';
    let pages = 0;
    while (url) {
      const result = await page(url);
      expect(result.loans.length).toBeLessThanOrEqual(7);
      seen.push(...result.loans);
      url = result.next;
      pages++;
    }
    expect(pages).toBe(Math.ceil(57 / 7));
    expect(new Set(seen.map((l) => l.id)).size).toBe(57);
    const keys = seen.map((l) => `${l.created_at}|${l.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
  });

  test('a loan created while paging appears on no later page', async () => {
    for (let i = 0; i < 4; i++) await create({ ...valid, borrower_id: `b${i}` });
    const first = await page('/api/loans?limit=2');
    await create({ ...valid, borrower_id: 'late' });
    const second = await page(first.next as string);
    expect(second.loans.map((l) => l.borrower_id)).toEqual(['b1', 'b0']);
  });

  test.each([
    ['limit=0', '/limit'],
    ['limit=201', '/limit'],
    ['limit=abc', '/limit'],
    ['limit=2.5', '/limit'],
    ['cursor=not-a-cursor', '/cursor'],
    [`cursor=${Buffer.from('2026-01-01|x').toString('base64url')}`, '/cursor'],
  ])('answers ?%s with 400', async (query, path) => {
    const problem = await expectProblem(await t.req(`/api/loans?${query}`), 400);
    expect(problem.errors?.[0]?.path).toBe(path);
  });

  test('accepts the maximum limit of 200', async () => {
    expect((await t.req('/api/loans?limit=200')).status).toBe(200);
  });
});

describe('every response', () => {
  test('carries the request id the client sent, and every log line of that request has it', async () => {
    const response = await t.post('/api/loans', valid, { 'x-request-id': 'client-trace-42' });
    expect(response.headers.get('x-request-id')).toBe('client-trace-42');
    const lines = t.logs.filter((line) => line.request_id === 'client-trace-42');
    expect(lines).toContainEqual(
      expect.objectContaining({
        method: 'POST',
        route: '/api/loans',
        status: 201,
        duration_ms: expect.any(Number),
      }),
    );
  });

  test('gets a fresh request id when the client sent none or an unsafe one', async () => {
    const none = await t.req('/api/loans');
    const unsafe = await t.req('/api/loans', { headers: { 'x-request-id': 'bad id <script>' } });
    for (const response of [none, unsafe]) {
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(none.headers.get('x-request-id')).not.toBe(unsafe.headers.get('x-request-id'));
  });

  test('errors carry the request id too', async () => {
    const response = await t.req('/api/loans/nope', { headers: { 'x-request-id': 'err-1' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-request-id')).toBe('err-1');
  });

  test('access logs name the route template, never the raw path or the body', async () => {
    const loan = await create({ ...valid, borrower_id: 'usr_private_name' });
    await t.req(`/api/loans/${loan.id}`, { headers: { 'x-request-id': 'tmpl-1' } });
    const line = t.logs.find((l) => l.request_id === 'tmpl-1');
    expect(line).toMatchObject({ route: '/api/loans/:id', status: 200 });
    expect(JSON.stringify(t.logs)).not.toContain('usr_private_name');
  });

  test('an unknown route is a 404 problem that does not repeat the path', async () => {
    const problem = await expectProblem(await t.req('/api/<script>nothing-here'), 404);
    expect(problem.detail).not.toContain('script');
    await expectProblem(await t.req('/api/loans', { method: 'DELETE' }), 404);
  });
});
