/**
 * `bun run bench`: the service against a raw Bun.serve + postgres.js server with the same SQL and pool, both on
 * the same Postgres, loaded in turn with the same tool (wrk when installed, else autocannon; 50 connections)
 * on GET /api/loans/:id and POST /api/loans. Prints requests/s, p50 and p99 for each and the ratio
 * service/raw. Not a test: nothing here passes or fails.
 *
 * BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres): where a scratch database is made
 * and dropped. BENCH_SECONDS (10): length of each run. BENCH_ROUNDS (3): runs per route and server,
 * alternating, median reported. BENCH_TOOL (wrk or autocannon). BENCH_LOG_LEVEL (info): the service's log
 * level; its logs go to /dev/null, as the raw server's would.
 */
import { createScratchDatabase } from '../src/db/scratch-database';
import { freePort } from '../src/free-port';
import { type LoadResult, loadTools } from './load';

const baseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const tool =
  loadTools[(process.env.BENCH_TOOL ?? (Bun.which('wrk') ? 'wrk' : 'autocannon')) as keyof typeof loadTools];
const CONNECTIONS = 50;
const POOL = '10';
const root = new URL('..', import.meta.url).pathname;

async function startServer(entry: string, env: Record<string, string>) {
  const port = await freePort();
  const child = Bun.spawn(['bun', entry], {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', DB_POOL_MAX: POOL },
    stdout: 'ignore',
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  while (
    !(await fetch(`${url}/health`)
      .then((r) => r.ok)
      .catch(() => false))
  ) {
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}`);
    await Bun.sleep(50);
  }
  return { url, pid: child.pid, stop: () => child.kill() };
}

/** CPU seconds (user + system) a process has used so far, from /proc; the kernel counts in 1/100 s ticks. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await Bun.file(`/proc/${pid}/stat`).text()).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One load run, with the CPU the server spent per request: a figure neighbours on a shared machine barely move. */
async function measure(server: { url: string; pid: number }, path: string, body: string | undefined) {
  const before = await cpuSeconds(server.pid);
  const result = await tool.run(server.url + path, body, seconds, CONNECTIONS);
  const cpu = (await cpuSeconds(server.pid)) - before;
  return { ...result, cpuMicros: (cpu * 1e6) / (result.rps * seconds) };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
type Run = LoadResult & { cpuMicros: number };
const summary = (runs: Run[]) => ({
  rps: median(runs.map((r) => r.rps)),
  cpuMicros: median(runs.map((r) => r.cpuMicros)),
  p50: median(runs.map((r) => r.p50)),
  p99: median(runs.map((r) => r.p99)),
  failures: runs.reduce((sum, r) => sum + r.failures, 0),
});

console.log(
  `bench: ${tool.name}, ${CONNECTIONS} connections, ${rounds} alternating runs of ${seconds} s per route and ` +
    `server (median shown), pool ${POOL}, service log level ${process.env.BENCH_LOG_LEVEL ?? 'info'}, ` +
    'rate limit off',
);
const database = await createScratchDatabase(baseUrl, 'bench');
const servers = {
  service: await startServer('src/index.ts', {
    APP_ENV: 'production',
    DATABASE_URL: database.url,
    RATE_LIMIT_PER_MINUTE: '0',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
  }),
  raw: await startServer('bench/raw-server.ts', { DATABASE_URL: database.url }),
};

try {
  const created = await fetch(`${servers.service.url}/api/loans`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ borrower_id: 'usr_bench_read', amount: '999.99', currency: 'INR' }),
  });
  const { id } = (await created.json()) as { id: string };
  const postBody = JSON.stringify({ borrower_id: 'usr_bench', amount: '1250.50', currency: 'KES' });
  const routes = [
    { name: 'GET /api/loans/:id', path: `/api/loans/${id}`, body: undefined },
    { name: 'POST /api/loans', path: '/api/loans', body: postBody },
  ];

  for (const route of routes) {
    const runs: Record<keyof typeof servers, Run[]> = { service: [], raw: [] };
    // One short warm-up each (JIT, prepared statements, pool), then alternate so noise hits both alike.
    for (const server of Object.values(servers))
      await tool.run(server.url + route.path, route.body, 2, CONNECTIONS);
    for (let round = 0; round < rounds; round++) {
      for (const name of ['service', 'raw'] as const) {
        runs[name].push(await measure(servers[name], route.path, route.body));
      }
    }
    const [s, r] = [summary(runs.service), summary(runs.raw)];
    for (const [label, x] of [
      ['service', s],
      ['raw', r],
    ] as const) {
      console.log(
        `${route.name.padEnd(20)} ${label.padEnd(8)} ${x.rps.toFixed(0).padStart(6)} req/s  ` +
          `p50 ${x.p50.toFixed(2).padStart(6)} ms  p99 ${x.p99.toFixed(2).padStart(6)} ms  ` +
          `CPU ${x.cpuMicros.toFixed(0).padStart(3)} µs/request  failures ${x.failures}`,
      );
    }
    console.log(
      `${route.name.padEnd(20)} ratio    service/raw ${(s.rps / r.rps).toFixed(2)}x req/s, ` +
        `${(s.p99 / r.p99).toFixed(2)}x p99, ${(s.cpuMicros / r.cpuMicros).toFixed(2)}x CPU per request`,
    );
  }
} finally {
  for (const server of Object.values(servers)) server.stop();
  await database.drop();
}
