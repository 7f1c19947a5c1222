/**
 * `bun run bench`: the service against a raw Bun.serve + postgres.js server doing the same database work (no
 * authentication, validation, logging or metrics), both on one scratch Postgres database, loaded in turn with
 * the same tool, on GET /health (also beside a raw handler that stamps X-Request-Id, the least the contract
 * allows), GET /api/loans/:id, POST /api/loans (with the statistics aggregates maintained by their triggers),
 * approve / undo-approval pairs and repayments; then GET /api/loans/:id/schedule of a 360-month disbursed loan
 * beside the service's own GET by id. Prints requests/s, p50, p99 and the server's CPU per request, the ratios
 * against their targets, the service's start-up time and its RSS after the whole run.
 * Settings: bench/harness.ts. Not a test: nothing here passes or fails, except a wrong /api/stats at the end.
 */
import {
  api,
  bearer,
  benchDatabase,
  checkStats,
  commandTarget,
  createTarget,
  measure,
  printRatio,
  printSummary,
  repaymentTarget,
  rssMegabytes,
  type Server,
  type Summary,
  settingsLine,
  startRawServer,
  startService,
} from './harness';
import type { LoadTarget } from './load';

console.log(`bench: ${settingsLine()}`);
const database = await benchDatabase();
// Migrations are applied already (benchDatabase ran them): this start-up is the one a replica makes.
const service = await startService(database.url);
const raw = await startRawServer(database.url);
const { sql, key, secondKey } = database;
const auth = bearer(key);

const verdicts: string[] = [];
const notes: string[] = [];
const ratio = (name: string, value: number, target: number, of: string) =>
  verdicts.push(
    `${name.padEnd(34)} ${value.toFixed(2)}x ${of} (target ${target}x: ${value >= target ? 'met' : 'MISSED'})`,
  );

/** The service beside the raw server, and beside `floor` too when given (measured in the same rounds). */
async function beside(
  name: string,
  target: LoadTarget,
  goal: number,
  { reset, floor }: { reset?: () => Promise<void>; floor?: Server } = {},
): Promise<Summary> {
  const servers = floor ? [service, raw, floor] : [service, raw];
  const [s, r, f] = (await measure(servers, target, reset)) as [Summary, Summary, Summary?];
  printSummary(name, 'service', s);
  printSummary(name, 'raw', r);
  ratio(name, printRatio(name, s, r, 'ratio'), goal, 'raw');
  if (floor && f) {
    printSummary(name, floor.name, f);
    const againstFloor = printRatio(name, s, f, `/${floor.name}`);
    const floorAgainstRaw = printRatio(name, f, r, `${floor.name}/raw`);
    notes.push(
      `${name.padEnd(34)} ${againstFloor.toFixed(2)}x ${floor.name}, a raw handler that is itself ${floorAgainstRaw.toFixed(2)}x raw`,
    );
  }
  return s;
}

try {
  const { id } = await api<{ id: string }>(service.url, key, '/api/loans', {
    borrower_id: 'usr_bench_read',
    amount: '999.99',
    currency: 'INR',
  });

  // 50000.00 at 8 % over 360 months: terms the schedule rule accepts (docs/decisions/0005). Four-eyes: the
  // creator may not approve, the approver may not disburse.
  const scheduled = await api<{ id: string }>(service.url, key, '/api/loans', {
    borrower_id: 'usr_bench_schedule',
    amount: '50000.00',
    currency: 'KES',
    term_months: 360,
    interest_rate_apr: '8.00',
  });
  await api(service.url, secondKey, `/api/loans/${scheduled.id}/approve`, {});
  await api(service.url, key, `/api/loans/${scheduled.id}/disburse`, { disbursed_on: '2025-01-15' });

  const commands = await commandTarget(sql, key);
  const repayments = await repaymentTarget(sql, key);

  // Every response carries X-Request-Id, so no conforming /health is static: the raw server's static answer
  // is the target's baseline, and a raw handler stamping the header shows the most any handler can reach.
  const rawWithRequestId = await startRawServer(database.url, { requestId: true });
  try {
    await beside('GET /health', { method: 'GET', lanes: [['/health']], headers: {} }, 0.8, {
      floor: rawWithRequestId,
    });
  } finally {
    rawWithRequestId.stop();
  }
  const getById = await beside(
    'GET /api/loans/:id',
    { method: 'GET', lanes: [[`/api/loans/${id}`]], headers: auth },
    0.85,
  );
  await beside('POST /api/loans', createTarget(key), 0.85);
  await beside('POST approve / undo-approval', commands.target, 0.85, { reset: commands.backToPending });
  await beside('POST …/repayments', repayments, 0.85);

  const scheduleRoute = 'GET /api/loans/:id/schedule (360)';
  const [schedule] = (await measure([service], {
    method: 'GET',
    lanes: [[`/api/loans/${scheduled.id}/schedule`]],
    headers: auth,
  })) as [Summary];
  printSummary(scheduleRoute, 'service', schedule);
  ratio(scheduleRoute, schedule.rps / getById.rps, 0.5, 'GET /api/loans/:id');

  console.log(`\n${await checkStats(service.url, key, sql)}`);
  console.log('\nratios against their targets:');
  for (const line of verdicts) console.log(`  ${line}`);
  for (const line of notes) console.log(`  ${line}`);
  const rss = rssMegabytes(service.pid);
  console.log(`  ${'service RSS after the whole bench'.padEnd(34)} ${rss.toFixed(0)} MB (target ≤ 150 MB)`);
  console.log(
    `  ${'service start-up to listening'.padEnd(34)} ${service.startupMs.toFixed(0)} ms, migrations already applied (target < 1000 ms)`,
  );
} finally {
  service.stop();
  raw.stop();
  await database.drop();
}
