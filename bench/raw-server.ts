/**
 * The baseline: Bun.serve and postgres.js with the same SQL and pool size as the service, and nothing else
 * (no validation, logging, metrics or error mapping). `bun run bench` loads it beside the service.
 */
import postgres from 'postgres';

const sql = postgres(process.env.DATABASE_URL as string, { max: Number(process.env.DB_POOL_MAX ?? 10) });
const columns = sql`id, borrower_id, amount, currency, status, term_months, interest_rate_apr,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at`;

const server = Bun.serve({
  port: Number(process.env.PORT),
  hostname: '127.0.0.1',
  routes: {
    '/health': Response.json({ status: 'ok' }),
    '/api/loans/:id': async (request) => {
      const [loan] = await sql`SELECT ${columns} FROM loans WHERE id = ${request.params.id}`;
      return loan ? Response.json(loan) : new Response('not found', { status: 404 });
    },
    '/api/loans': {
      POST: async (request) => {
        const body = (await request.json()) as Record<string, string>;
        const [loan] = await sql`
          INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr)
          VALUES (${body.borrower_id as string}, ${body.amount as string}, ${(body.currency as string).toUpperCase()}, null, null)
          RETURNING ${columns}`;
        return Response.json(loan, { status: 201, headers: { location: `/api/loans/${loan?.id}` } });
      },
    },
  },
});
console.log(`raw server listening on ${server.port}`);
