/**
 * `bun run bench:aggregates`: the trial behind docs/decisions/0006. Creates and approve / undo-approval pairs,
 * service and raw baseline side by side, under three states of the statistics triggers on one database:
 * none (disabled), one row per (status, currency) (the shipped function with its slot count set to 1: every
 * writer queues on one row lock), and the shipped 32 slots. Settings: bench/harness.ts. (Whether the totals stay
 * exact under this load is what `bun run bench` checks at its end.)
 */
import {
  benchDatabase,
  commandTarget,
  createTarget,
  measure,
  printSummary,
  roundRatios,
  type Summary,
  settingsLine,
  startRawServer,
  startService,
} from './harness';

const FOLLOW_TRIGGERS = [
  'loan_totals_follow_insert',
  'loan_totals_follow_update',
  'loan_totals_follow_delete',
];
const SHIPPED_SLOTS = /pg_backend_pid\(\) % 32/;

console.log(`bench:aggregates: ${settingsLine()}`);
const database = await benchDatabase();
const { sql, key } = database;
const service = await startService(database.url);
const raw = await startRawServer(database.url);

const [shipped] = await sql<{ definition: string }[]>`
  SELECT pg_get_functiondef('loan_totals_follow'::regproc) AS definition`;
if (!shipped || !SHIPPED_SLOTS.test(shipped.definition)) {
  throw new Error(
    'loan_totals_follow no longer chooses its slot as pg_backend_pid() % 32: update this trial',
  );
}
const triggers = (state: 'ENABLE' | 'DISABLE') =>
  Promise.all(FOLLOW_TRIGGERS.map((name) => sql.unsafe(`ALTER TABLE loans ${state} TRIGGER ${name}`)));

const variants = [
  { name: 'no triggers', apply: () => triggers('DISABLE') },
  {
    name: 'one row per key',
    apply: async () => {
      await triggers('ENABLE');
      await sql.unsafe(shipped.definition.replace(SHIPPED_SLOTS, 'pg_backend_pid() % 1'));
    },
  },
  { name: '32 slots (shipped)', apply: () => sql.unsafe(shipped.definition) },
];

try {
  const commands = await commandTarget(sql, key);
  const routes = [
    { name: 'POST /api/loans', target: createTarget(key), reset: undefined },
    { name: 'approve / undo-approval', target: commands.target, reset: commands.backToPending },
  ];
  const table: string[] = [];
  for (const route of routes) {
    let rawWithout: number | undefined;
    for (const variant of variants) {
      await variant.apply();
      const [s, r] = (await measure([service, raw], route.target, route.reset)) as [Summary, Summary];
      const label = `${route.name}, ${variant.name}`;
      printSummary(label, 'service', s);
      printSummary(label, 'raw', r);
      rawWithout ??= r.rps;
      table.push(
        `  ${route.name.padEnd(24)} ${variant.name.padEnd(19)} service ${s.rps.toFixed(0).padStart(5)}  raw ${r.rps
          .toFixed(0)
          .padStart(
            5,
          )}  service/raw ${roundRatios(s, r).median.toFixed(2)}x  raw/raw without triggers ${(r.rps / rawWithout).toFixed(2)}x`,
      );
    }
  }
  console.log('\nreq/s (median):');
  for (const line of table) console.log(line);
} finally {
  service.stop();
  raw.stop();
  await database.drop();
}
