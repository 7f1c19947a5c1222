/**
 * `bun run bench:scale`: the read routes at 10,000 and at 1,000,000 loans, seeded inside Postgres with
 * generate_series, each size after a reseed that truncates the loans (which the aggregates' TRUNCATE trigger
 * must follow) and a check of GET /api/stats against count(*) and sum(amount) that stops the run when they
 * differ. Reports each route's rate at the larger size over its rate at the smaller (1.0 = flat), and stats
 * over get-by-id at the larger size. BENCH_SCALE_SIZES (10000,1000000); BENCH_SECONDS defaults to 5 here;
 * the rest as bench/harness.ts says. Seeded disbursed loans have no stored instalments (as loans disbursed
 * before v2): the portfolio counts their whole amount as outstanding.
 */
import {
  bearer,
  benchDatabase,
  checkStats,
  measure,
  printSummary,
  type Summary,
  seedLoans,
  settings,
  settingsLine,
  startService,
} from './harness';

settings.seconds = Number(process.env.BENCH_SECONDS ?? 5);
const sizes = (process.env.BENCH_SCALE_SIZES ?? '10000,1000000').split(',').map(Number);

console.log(`bench:scale: ${settingsLine()}; service only`);
const database = await benchDatabase();
const { sql, key } = database;
const service = await startService(database.url);

/** Empties the loans and what hangs off them; the audit trail refuses TRUNCATE until the owner lifts that. */
async function truncateLoans() {
  await sql.unsafe('ALTER TABLE loan_events DISABLE TRIGGER loan_events_no_truncate');
  await sql.unsafe('TRUNCATE loans, loan_events, instalments, repayments, idempotency_keys');
  await sql.unsafe('ALTER TABLE loan_events ENABLE TRIGGER loan_events_no_truncate');
}

const routes = [
  'GET /api/loans/:id',
  'GET /api/loans (first page)',
  'GET /api/loans?status=approved',
  'GET /api/stats',
  'GET /api/stats/portfolio',
];
const rates = new Map<string, Summary[]>(routes.map((route) => [route, []]));

try {
  for (const size of sizes) {
    console.log(`\nreseeding: truncate, then ${size.toLocaleString('en')} loans`);
    await truncateLoans();
    await seedLoans(sql, size);
    console.log(await checkStats(service.url, key, sql));
    const [middle] = await sql<{ id: string }[]>`
      SELECT id FROM loans ORDER BY created_at DESC, id DESC OFFSET ${Math.floor(size / 2)} LIMIT 1`;
    const paths = [
      `/api/loans/${middle?.id}`,
      '/api/loans',
      '/api/loans?status=approved',
      '/api/stats',
      '/api/stats/portfolio',
    ];
    for (const [index, route] of routes.entries()) {
      const [result] = (await measure([service], {
        method: 'GET',
        lanes: [[paths[index] as string]],
        headers: bearer(key),
      })) as [Summary];
      printSummary(`${route} @ ${size.toLocaleString('en')}`, 'service', result);
      rates.get(route)?.push(result);
    }
  }

  const [small, large] = [sizes[0] as number, sizes.at(-1) as number].map((n) => n.toLocaleString('en'));
  console.log(`\nrate at ${large} loans over the rate at ${small} (1.0 = flat):`);
  for (const [route, [atSmall, atLarge]] of rates) {
    if (!atSmall || !atLarge) continue;
    console.log(
      `  ${route.padEnd(32)} ${(atLarge.rps / atSmall.rps).toFixed(2)}  (${atSmall.rps.toFixed(0)} → ${atLarge.rps.toFixed(0)} req/s)`,
    );
  }
  const stats = rates.get('GET /api/stats')?.at(-1) as Summary;
  const byId = rates.get('GET /api/loans/:id')?.at(-1) as Summary;
  const ratio = stats.rps / byId.rps;
  console.log(
    `  GET /api/stats over GET /api/loans/:id at ${large}: ${ratio.toFixed(2)}x (target 0.5x: ${ratio >= 0.5 ? 'met' : 'MISSED'})`,
  );
} finally {
  service.stop();
  await database.drop();
}
