/**
 * What the bench scripts share: the settings, a scratch database with an API key, the servers under load, the
 * alternating measurement, the seed and the statistics check. Nothing here passes or fails a build.
 *
 * BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres): where a scratch database is made
 * and dropped. BENCH_SECONDS (8): length of each run. BENCH_WARMUP_SECONDS (10): load on each server and
 * route before its measured runs; then more, in 2 s steps up to BENCH_WARMUP_MAX_SECONDS (60) in all, until the
 * server's JIT compiler thread is idle. BENCH_ROUNDS (3): runs per route and server,
 * alternating, median reported. BENCH_TOOL (wrk or autocannon). BENCH_LOG_LEVEL (info): the service's log
 * level; its output goes to a file, as a container's would be collected.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type postgres from 'postgres';
import { generateApiKey, hashApiKey } from '../src/auth/api-key';
import { openDatabase, openSingleConnection } from '../src/db/client';
import { runMigrations } from '../src/db/migrate';
import { createScratchDatabase } from '../src/db/scratch-database';
import { freePort } from '../src/free-port';
import { createApiKeyRepository } from '../src/modules/keys/repository';
import type { Stats } from '../src/modules/stats/model';
import { chosenTool, type LoadResult, type LoadTarget } from './load';

export const settings = {
  serverUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  seconds: Number(process.env.BENCH_SECONDS ?? 8),
  // The service has far more code to compile than the raw server, and a server that runs for days is measured
  // once that is done: after 2 s of commands its JIT thread still spent 150 µs a request tiering code up, after
  // some 20,000 requests under 10 µs; after 10 s of repayments (7,500) still 45 µs, 10 % of the service's CPU,
  // and none after 60 s. So the warm-up lasts at least the first and at most the second, until the JIT is idle.
  warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 10),
  warmupMaxSeconds: Number(process.env.BENCH_WARMUP_MAX_SECONDS ?? 60),
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'info',
  tool: chosenTool(),
  connections: 50,
  pool: 10,
};

export const settingsLine = () =>
  `${settings.tool.name}, ${settings.connections} connections, ${settings.rounds} alternating runs of ` +
  `${settings.seconds} s per route and server (median shown) after ${settings.warmupSeconds} s of warm-up and more until the JIT is idle ` +
  `(at most ${settings.warmupMaxSeconds} s), pool ${settings.pool}; the service as bun start ` +
  `runs it: APP_ENV=production, authenticated with a real API key, access log at ${settings.logLevel} to a ` +
  `file, metrics on, RATE_LIMIT_PER_MINUTE=0 (rate limit off); Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs shared with whatever else runs`;

const root = new URL('..', import.meta.url).pathname;

export interface Server {
  name: string;
  url: string;
  pid: number;
  /** From spawn to the first answer on /health. */
  startupMs: number;
  stop: () => void;
}

export async function startServer(name: string, entry: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const logFile = join(mkdtempSync(join(tmpdir(), 'bench-log-')), `${name}.log`);
  const started = performance.now();
  const child = Bun.spawn(['bun', entry], {
    cwd: root,
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DB_POOL_MAX: String(settings.pool),
    },
    stdout: Bun.file(logFile),
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  while (
    !(await fetch(`${url}/health`)
      .then((r) => r.ok)
      .catch(() => false))
  ) {
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}: see ${logFile}`);
    await Bun.sleep(5);
  }
  return { name, url, pid: child.pid, startupMs: performance.now() - started, stop: () => child.kill() };
}

/** The service as `bun start` runs it, with the settings `settingsLine()` states. */
export const startService = (databaseUrl: string) =>
  startServer('service', 'src/index.ts', {
    APP_ENV: 'production',
    DATABASE_URL: databaseUrl,
    RATE_LIMIT_PER_MINUTE: '0',
    LOG_LEVEL: settings.logLevel,
  });

/** The raw baseline; with `requestId`, its /health stamps a fresh X-Request-Id (RAW_HEALTH=request-id). */
export const startRawServer = (databaseUrl: string, { requestId = false } = {}) =>
  requestId
    ? startServer('raw-id', 'bench/raw-server.ts', { DATABASE_URL: databaseUrl, RAW_HEALTH: 'request-id' })
    : startServer('raw', 'bench/raw-server.ts', { DATABASE_URL: databaseUrl });

/** Resident memory of a process, from /proc. */
export function rssMegabytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) / 1024;
}

/** CPU ticks (user + system, 1/100 s) of a process or thread, from its /proc stat file. */
const cpuTicks = (statFile: string) => {
  const fields = readFileSync(statFile, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
};

/** CPU seconds a process has used so far. */
const cpuSeconds = (pid: number) => cpuTicks(`/proc/${pid}/stat`) / 100;

/**
 * CPU ticks (1/100 s) the JIT compiler threads of a process have used so far: JavaScriptCore names them
 * JITWorker.
 */
function jitTicks(pid: number): number {
  let ticks = 0;
  for (const thread of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${thread}/comm`, 'utf8').trim() !== 'JITWorker') continue;
      ticks += cpuTicks(`/proc/${pid}/task/${thread}/stat`);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ticks;
}

const load = (server: Server, target: LoadTarget, seconds: number) =>
  settings.tool.run(server.url, target, seconds, settings.connections);

const JIT_STEP_SECONDS = 2;
// At most 10 ms of compiling in a 2 s step: the JIT is done with what this target runs.
const JIT_IDLE_TICKS = 1;

/** Loads the server for the warm-up, then on until its JIT is idle; returns the seconds it took. */
async function warmUp(server: Server, target: LoadTarget): Promise<number> {
  await load(server, target, settings.warmupSeconds);
  let seconds = settings.warmupSeconds;
  while (seconds + JIT_STEP_SECONDS <= settings.warmupMaxSeconds) {
    const before = jitTicks(server.pid);
    await load(server, target, JIT_STEP_SECONDS);
    seconds += JIT_STEP_SECONDS;
    if (jitTicks(server.pid) - before <= JIT_IDLE_TICKS) break;
  }
  return seconds;
}

type Run = LoadResult & { cpuMicros: number };

export type Summary = Run & {
  /** Requests/s of each round, in order: round i of every server ran back to back. */
  roundRps: number[];
  /** How long the server was loaded before its measured runs. */
  warmupSeconds: number;
};

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/**
 * Loads each server with the same target in turn, `settings.rounds` times, after one warm-up each (JIT,
 * prepared statements, pool; until the JIT is idle), alternating so that a noisy neighbour hits all of them
 * alike. `reset` runs before every run, to put the data back where the target expects it.
 */
export async function measure(
  servers: Server[],
  target: LoadTarget,
  reset: () => Promise<void> = async () => {},
): Promise<Summary[]> {
  const runs: Run[][] = servers.map(() => []);
  const warmups: number[] = [];
  for (const server of servers) {
    await reset();
    warmups.push(await warmUp(server, target));
  }
  for (let round = 0; round < settings.rounds; round++) {
    for (const [index, server] of servers.entries()) {
      await reset();
      const before = cpuSeconds(server.pid);
      const result = await load(server, target, settings.seconds);
      const cpu = cpuSeconds(server.pid) - before;
      runs[index]?.push({ ...result, cpuMicros: (cpu * 1e6) / (result.rps * settings.seconds) });
    }
  }
  return runs.map((each, index) => ({
    warmupSeconds: warmups[index] as number,
    rps: median(each.map((r) => r.rps)),
    cpuMicros: median(each.map((r) => r.cpuMicros)),
    p50: median(each.map((r) => r.p50)),
    p99: median(each.map((r) => r.p99)),
    failures: each.reduce((sum, r) => sum + r.failures, 0),
    roundRps: each.map((r) => r.rps),
  }));
}

/**
 * How a's rate compares with b's: the median of the rounds' ratios, each from two runs back to back, so that a
 * slow minute of the machine (the same build moved 12 % between minutes) weighs on both sides of a ratio alike.
 */
export function roundRatios(a: Summary, b: Summary): { median: number; rounds: number[] } {
  const rounds = a.roundRps.map((rps, round) => rps / (b.roundRps[round] as number));
  return { median: median(rounds), rounds };
}

export function printSummary(route: string, label: string, x: Summary) {
  console.log(
    `${route.padEnd(34)} ${label.padEnd(8)} ${x.rps.toFixed(0).padStart(6)} req/s  ` +
      `p50 ${x.p50.toFixed(2).padStart(6)} ms  p99 ${x.p99.toFixed(2).padStart(7)} ms  ` +
      `CPU ${x.cpuMicros.toFixed(0).padStart(4)} µs/request  failures ${x.failures}  warm-up ${x.warmupSeconds} s`,
  );
}

/** Prints how `s` compares with `r` (rate, p99, CPU per request) and returns the ratio of their rates. */
export function printRatio(name: string, s: Summary, r: Summary, against: string): number {
  const rate = roundRatios(s, r);
  console.log(
    `${name.padEnd(34)} ${against.padEnd(8)} ${rate.median.toFixed(2)}x req/s (rounds ${rate.rounds.map((x) => x.toFixed(2)).join(', ')}), ` +
      `${(s.p99 / r.p99).toFixed(2)}x p99, ${(s.cpuMicros / r.cpuMicros).toFixed(2)}x CPU per request`,
  );
  return rate.median;
}

/** A scratch database, migrated, with two officer keys (four-eyes needs a second credential) and a connection. */
export async function benchDatabase() {
  const scratch = await createScratchDatabase(settings.serverUrl, 'bench');
  const database = openDatabase({ appEnv: 'production', databaseUrl: scratch.url, dbPoolMax: 1 });
  await runMigrations(database);
  const apiKeys = createApiKeyRepository(database.db);
  const keys: string[] = [];
  for (const name of ['bench', 'bench-second-officer']) {
    const key = generateApiKey();
    await apiKeys.create(undefined, {
      name,
      role: 'officer',
      borrowerId: null,
      keyHash: hashApiKey(key),
      expiresAt: null,
    });
    keys.push(key);
  }
  await database.close();
  const sql = openSingleConnection(scratch.url, 10);
  return {
    url: scratch.url,
    sql,
    key: keys[0] as string,
    secondKey: keys[1] as string,
    drop: async () => {
      await sql.end();
      await scratch.drop();
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

export async function api<T>(baseUrl: string, key: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(baseUrl + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...bearer(key), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * GET /api/stats against count(*) and sum(amount) of loans: the aggregates must be exact after whatever the
 * bench did. Throws, loudly, when they are not.
 */
export async function checkStats(serviceUrl: string, key: string, sql: postgres.Sql): Promise<string> {
  const stats = await api<Stats>(serviceUrl, key, '/api/stats');
  const [scan] = await sql<{ count: number; total: string }[]>`
    SELECT count(*)::int AS count, round(coalesce(sum(amount), 0), 2)::text AS total FROM loans`;
  if (stats.total_loans !== scan?.count || stats.total_amount !== scan?.total) {
    throw new Error(
      `AGGREGATES WRONG: /api/stats says ${stats.total_loans} loans, ${stats.total_amount}; ` +
        `the table has ${scan?.count}, ${scan?.total}`,
    );
  }
  return `/api/stats matches count(*) = ${scan.count} and sum(amount) = ${scan.total}`;
}

const SEED_STATUSES = ['pending', 'approved', 'rejected', 'disbursed', 'repaid', 'defaulted'];

/**
 * Inserts `count` loans inside Postgres with generate_series, in statements of at most `chunk` rows (each one
 * transaction, so the aggregates' statement trigger runs once per chunk), printing progress. Every status and
 * three currencies, created a second apart going back in time, 12 months at 10 %, by the system.
 */
export async function seedLoans(sql: postgres.Sql, count: number, chunk = 100_000): Promise<void> {
  const started = performance.now();
  for (let from = 1; from <= count; from += chunk) {
    const to = Math.min(count, from + chunk - 1);
    await sql`
      INSERT INTO loans (borrower_id, amount, currency, status, term_months, interest_rate_apr, disbursed_on,
                         created_at, updated_at)
      SELECT 'usr_seed_' || (i % 50000), (100 + (i::bigint * 7919) % 4999900) / 100.0, (ARRAY['KES', 'INR', 'USD'])[1 + i % 3],
             status, 12, 10.00,
             CASE WHEN status IN ('disbursed', 'repaid', 'defaulted') THEN DATE '2026-01-15' END,
             now() - make_interval(secs => i), now() - make_interval(secs => i)
      FROM generate_series(${from}::int, ${to}::int) AS i,
           LATERAL (SELECT (${SEED_STATUSES}::text[])[1 + i % 6] AS status) AS chosen`;
    if (count > chunk) {
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      console.log(
        `  seeded ${to.toLocaleString('en')} of ${count.toLocaleString('en')} loans (${seconds} s)`,
      );
    }
  }
  await sql`ANALYZE loans`;
}

/** An officer's JSON POST of `body` to each lane's paths. */
const officerPost = (key: string, lanes: string[][], body: string): LoadTarget => ({
  method: 'POST',
  lanes,
  headers: { ...bearer(key), 'content-type': 'application/json' },
  body,
});

export const createTarget = (key: string): LoadTarget =>
  officerPost(
    key,
    [['/api/loans']],
    JSON.stringify({ borrower_id: 'usr_bench', amount: '1250.50', currency: 'KES' }),
  );

/** The ids in two halves, one lane per load thread, so two threads never work on the same loan at once. */
function twoLanes(ids: string[]): string[][] {
  const half = ids.length / 2;
  return [ids.slice(0, half), ids.slice(half)];
}

/**
 * Repayments of 0.01 on `count` disbursed 12-month loans, each with its stored schedule (seeded in SQL; the
 * aggregates' triggers see the inserts), spread over two lanes. A loan owes 1,344.00, so no run comes near
 * repaying one: every request takes the same path.
 */
export async function repaymentTarget(sql: postgres.Sql, key: string, count = 2000) {
  const ids = (
    await sql<{ id: string }[]>`
      INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr, status, disbursed_on)
      SELECT 'usr_bench_repayments', 1200, 'KES', 12, 24.00, 'disbursed', date '2026-01-15'
      FROM generate_series(1, ${count}::int)
      RETURNING id`
  ).map((row) => row.id);
  await sql`
    INSERT INTO instalments (loan_id, number, due_on, principal, interest)
    SELECT id, n, date '2026-01-15' + make_interval(months => n), 100.00, 12.00
    FROM unnest(${ids}::uuid[]) id, generate_series(1, 12) n`;
  const lanes = twoLanes(ids).map((lane) => lane.map((id) => `/api/loans/${id}/repayments`));
  return officerPost(key, lanes, '{"amount":"0.01"}');
}

/**
 * Pending loans for approve / undo-approval pairs, split into one lane per load thread, each lane approving
 * all of its loans and then undoing them (so a loan's two commands are far apart), and a reset that puts
 * them back to pending before each run. Created by the system, so four-eyes lets the bench key approve.
 */
export async function commandTarget(sql: postgres.Sql, key: string, count = 2000) {
  const ids = (
    await sql<{ id: string }[]>`
      INSERT INTO loans (borrower_id, amount, currency, term_months, interest_rate_apr)
      SELECT 'usr_bench_commands', 1000 + i, 'KES', 12, 10.00 FROM generate_series(1, ${count}::int) i
      RETURNING id`
  ).map((row) => row.id);
  const lanes = twoLanes(ids).map((lane) => [
    ...lane.map((id) => `/api/loans/${id}/approve`),
    ...lane.map((id) => `/api/loans/${id}/undo-approval`),
  ]);
  const target = officerPost(key, lanes, '{}');
  const backToPending = async () => {
    await Bun.sleep(250); // for the answers still in flight when the load tool stopped
    await sql`UPDATE loans SET status = 'pending', approved_by = NULL
              WHERE borrower_id = 'usr_bench_commands' AND status <> 'pending'`;
  };
  return { target, backToPending };
}
