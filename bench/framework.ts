/**
 * `bun run bench:framework`: where a /health answer's time goes, from a static Bun.serve answer up to the
 * service, all loaded in the same alternating rounds: the raw server's static answer; a raw handler stamping
 * X-Request-Id; Elysia with one /health route and no hooks; the same with the two hooks a request context
 * needs (an X-Request-Id and a pass on every response: bench/elysia-floor.ts); the service as `bun start`
 * runs it. Each is reported against the static answer. Settings: bench/harness.ts.
 */
import {
  benchDatabase,
  measure,
  printRatio,
  printSummary,
  type Server,
  type Summary,
  settingsLine,
  startRawServer,
  startServer,
  startService,
} from './harness';

console.log(`bench:framework: ${settingsLine()}`);
const database = await benchDatabase();
const servers: Server[] = [];
try {
  servers.push(
    await startRawServer(database.url),
    await startRawServer(database.url, { requestId: true }),
    await startServer('elysia', 'bench/elysia-floor.ts', {}),
    await startServer('elysia-id', 'bench/elysia-floor.ts', { ELYSIA_FLOOR: 'request-id' }),
    await startService(database.url),
  );
  const summaries = await measure(servers, { method: 'GET', lanes: [['/health']], headers: {} });
  const [raw] = summaries;
  if (!raw) throw new Error('no measurement of the raw server');
  for (const [index, server] of servers.entries()) {
    const summary = summaries[index] as Summary;
    printSummary('GET /health', server.name, summary);
    if (summary !== raw) printRatio('GET /health', summary, raw, `${server.name}/raw`);
  }
} finally {
  for (const server of servers) server.stop();
  await database.drop();
}
