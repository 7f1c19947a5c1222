/**
 * The baseline: Bun.serve and postgres.js with the same SQL, transactions and pool size as the service, and
 * nothing else (no authentication, validation, logging, metrics or error mapping). `bun run bench` loads it
 * beside the service. Its writes fire the same triggers (the aggregates), since they are the database's. Same SQL
 * means the service's statements on its success path, CTEs included: a baseline writing one statement per table
 * ran 8 to 16 % slower than this one and so hid that much of the service's own cost.
 */
import postgres from 'postgres';

const sql = postgres(process.env.DATABASE_URL as string, { max: Number(process.env.DB_POOL_MAX ?? 10) });
const ACTOR = 'raw-baseline';
const columns = sql`id, borrower_id, amount, currency, status, term_months, interest_rate_apr, disbursed_on,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at`;

/** The two commands the bench sends, as the conditional UPDATE the service makes and the event it appends. */
const commands = {
  approve: { from: 'pending', to: 'approved', event: 'approved', approvedBy: ACTOR },
  'undo-approval': { from: 'approved', to: 'pending', event: 'approval_undone', approvedBy: null },
} as const;

const cents = (money: string) => BigInt(money.replace('.', ''));
const minimum = (a: bigint, b: bigint) => (a < b ? a : b);
const money = (value: bigint) => `${value / 100n}.${String(value % 100n).padStart(2, '0')}`;

/**
 * A repayment as the service posts it, in its four statements: oldest instalment first, interest before principal,
 * in whole cents.
 */
async function repay(tx: postgres.TransactionSql, id: string, amount: string) {
  const [loan] = await tx`SELECT ${columns}, version FROM loans WHERE id = ${id} FOR UPDATE`;
  if (loan?.status !== 'disbursed') return undefined;
  const instalments =
    await tx`SELECT latest.paid_on, number, principal, interest, paid_principal, paid_interest
    FROM (SELECT max(paid_on)::text AS paid_on FROM repayments WHERE loan_id = ${id}) latest
    LEFT JOIN instalments ON loan_id = ${id} ORDER BY number`;
  let left = cents(amount);
  let outstanding = 0n;
  const parts: { number: number; interest: string; principal: string }[] = [];
  for (const each of instalments) {
    const interestOwed = cents(each.interest) - cents(each.paid_interest);
    const principalOwed = cents(each.principal) - cents(each.paid_principal);
    outstanding += interestOwed + principalOwed;
    const interest = minimum(left, interestOwed);
    const principal = minimum(left - interest, principalOwed);
    left -= interest + principal;
    if (interest > 0n || principal > 0n)
      parts.push({ number: each.number, interest: money(interest), principal: money(principal) });
  }
  if (left > 0n) return undefined;
  const [repayment] = await tx<{ id: string }[]>`
    WITH paid AS (
      UPDATE instalments SET paid_interest = instalments.paid_interest + part.interest,
        paid_principal = instalments.paid_principal + part.principal
      FROM jsonb_to_recordset(${tx.json(parts)}::jsonb) AS part(number smallint, interest numeric, principal numeric)
      WHERE instalments.loan_id = ${id} AND instalments.number = part.number)
    INSERT INTO repayments (loan_id, amount, paid_on, allocation, actor)
    VALUES (${id}, ${amount}, current_date, ${tx.json(parts)}, ${ACTOR})
    RETURNING id, loan_id, amount, paid_on::text, allocation,
      to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;
  await tx`WITH written AS (UPDATE loans SET version = version + 1 WHERE id = ${id} RETURNING id)
           INSERT INTO loan_events (loan_id, type, from_status, to_status, actor, amount)
           SELECT written.id, 'repayment', 'disbursed', 'disbursed', ${ACTOR}, ${amount} FROM written`;
  return { ...repayment, outstanding: money(outstanding - cents(amount)) };
}

const HEALTH = { status: 'ok' };
/**
 * RAW_HEALTH=request-id: /health from a handler that stamps a fresh X-Request-Id, as the contract asks of every
 * response to a client that offers none (the bench's): the least a conforming /health does. By default it is a
 * static response, which Bun sends without running any JavaScript.
 */
const health =
  process.env.RAW_HEALTH === 'request-id'
    ? () => Response.json(HEALTH, { headers: { 'x-request-id': crypto.randomUUID() } })
    : Response.json(HEALTH);

const server = Bun.serve({
  port: Number(process.env.PORT),
  hostname: '127.0.0.1',
  routes: {
    '/health': health,
    '/api/loans/:id': async (request) => {
      const [loan] = await sql`SELECT ${columns} FROM loans WHERE id = ${request.params.id}`;
      return loan ? Response.json(loan) : new Response('not found', { status: 404 });
    },
    '/api/loans': {
      POST: async (request) => {
        const body = (await request.json()) as Record<string, string>;
        const loan = await sql.begin(async (tx) => {
          const [created] = await tx`
            WITH written AS (
              INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr, created_by)
              VALUES (${body.borrower_id as string}, ${body.amount as string}, ${(body.currency as string).toUpperCase()},
                      null, null, ${ACTOR})
              RETURNING ${columns}
            ), event AS (
              INSERT INTO loan_events (loan_id, type, from_status, to_status, actor)
              SELECT written.id, 'created', null, 'pending', ${ACTOR} FROM written)
            SELECT * FROM written`;
          return created;
        });
        return Response.json(loan, { status: 201, headers: { location: `/api/loans/${loan?.id}` } });
      },
    },
    '/api/loans/:id/repayments': {
      POST: async (request) => {
        const { amount } = (await request.json()) as { amount: string };
        const repayment = await sql.begin((tx) => repay(tx, request.params.id, amount));
        return repayment
          ? Response.json(repayment, {
              status: 201,
              headers: { location: `/api/loans/${request.params.id}/repayments/${repayment.id}` },
            })
          : new Response('conflict', { status: 409 });
      },
    },
    '/api/loans/:id/:command': {
      POST: async (request) => {
        const command = commands[request.params.command as keyof typeof commands];
        if (!command) return new Response('not found', { status: 404 });
        const loan = await sql.begin(async (tx) => {
          const [updated] = await tx`
            WITH written AS (
              UPDATE loans SET status = ${command.to}, approved_by = ${command.approvedBy}, version = version + 1
              WHERE id = ${request.params.id} AND status = ${command.from}
              RETURNING ${columns}
            ), event AS (
              INSERT INTO loan_events (loan_id, type, from_status, to_status, actor)
              SELECT written.id, ${command.event}, ${command.from}, ${command.to}, ${ACTOR} FROM written)
            SELECT * FROM written`;
          return updated;
        });
        return loan ? Response.json(loan) : new Response('conflict', { status: 409 });
      },
    },
  },
});
console.log(`raw server listening on ${server.port}`);
