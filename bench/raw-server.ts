/**
 * The baseline: Bun.serve and postgres.js with the same SQL, transactions and pool size as the service, and
 * nothing else (no authentication, validation, logging, metrics or error mapping). `bun run bench` loads it
 * beside the service. Its writes fire the same triggers (the aggregates), since they are the database's.
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
        const loan = await sql.begin(async (tx) => {
          const [created] = await tx`
            INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr, created_by)
            VALUES (${body.borrower_id as string}, ${body.amount as string}, ${(body.currency as string).toUpperCase()},
                    null, null, ${ACTOR})
            RETURNING ${columns}`;
          await tx`INSERT INTO loan_events (loan_id, type, from_status, to_status, actor)
                   VALUES (${created?.id}, 'created', null, 'pending', ${ACTOR})`;
          return created;
        });
        return Response.json(loan, { status: 201, headers: { location: `/api/loans/${loan?.id}` } });
      },
    },
    '/api/loans/:id/:command': {
      POST: async (request) => {
        const command = commands[request.params.command as keyof typeof commands];
        if (!command) return new Response('not found', { status: 404 });
        const loan = await sql.begin(async (tx) => {
          const [updated] = await tx`
            UPDATE loans SET status = ${command.to}, approved_by = ${command.approvedBy}, version = version + 1
            WHERE id = ${request.params.id} AND status = ${command.from}
            RETURNING ${columns}`;
          if (!updated) return undefined;
          await tx`INSERT INTO loan_events (loan_id, type, from_status, to_status, actor)
                   VALUES (${updated.id}, ${command.event}, ${command.from}, ${command.to}, ${ACTOR})`;
          return updated;
        });
        return loan ? Response.json(loan) : new Response('conflict', { status: 409 });
      },
    },
  },
});
console.log(`raw server listening on ${server.port}`);
