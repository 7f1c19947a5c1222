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
  settings,
  settingsLine,
  startServer,
} from './harness';

console.log(`bench:framework: ${settingsLine()}`);
const database = await benchDatabase();
const servers: Server[] = [];
try {
  servers.push(
    await startServer('raw', 'bench/raw-server.ts', { DATABASE_URL: database.url }),
    await startServer('raw-id', 'bench/raw-server.ts', {
      DATABASE_URL: database.url,
      RAW_HEALTH: 'request-id',
    }),
    await startServer('elysia', 'bench/elysia-floor.ts', {}),
    await startServer('elysia-id', 'bench/elysia-floor.ts', { ELYSIA_FLOOR: 'request-id' }),
    await startServer('service', 'src/index.ts', {
      APP_ENV: 'production',
      DATABASE_URL: database.url,
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: settings.logLevel,
    }),
  );
  const [raw, ...others] = await measure(servers, { method: 'GET', lanes: [['/health']], headers: {} });
  if (!raw) throw new Error('no measurement of the raw server');
  printSummary('GET /health', 'raw', raw);
  for (const [index, summary] of others.entries()) {
    const name = servers[index + 1]?.name ?? '';
    printSummary('GET /health', name, summary);
    printRatio('GET /health', summary, raw, `${name}/raw`);
  }
} finally {
  for (const server of servers) server.stop();
  await database.drop();
}
