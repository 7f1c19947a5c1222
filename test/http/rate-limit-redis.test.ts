import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { RedisClient, type Subprocess } from 'bun';
import { REDIS_RETRY_INTERVAL_MS, REDIS_TIMEOUT_MS } from '../../src/http/rate-limit-redis';
import { type ApiProcess, freePort, startApiProcess } from '../support/api-process';
import { bearer, devKeys, useListeningTestApp } from '../support/app';
import { suiteDatabaseUrl } from '../support/database';
import { createFreshDatabase } from '../support/postgres';
import { runToExit } from '../support/run';
import { missingTools } from '../support/tools';

const repoRoot = new URL('../..', import.meta.url).pathname;
// The machine's Redis (CI starts it when it is not running); every run counts under keys of its own.
const SHARED_REDIS = 'redis://127.0.0.1:6379';
const keyPrefix = `test:rate-limit:${process.pid}:${Date.now().toString(36)}:`;
const redisMissing = missingTools('shared rate limits', {
  'redis-server': Bun.which('redis-server'),
  'redis-cli': Bun.which('redis-cli'),
});

afterAll(async () => {
  if (redisMissing) return;
  const redis = new RedisClient(SHARED_REDIS);
  const keys = (await redis.send('KEYS', [`${keyPrefix}*`])) as string[];
  if (keys.length > 0) await redis.send('DEL', keys);
  redis.close();
});

/** What a client sees of the limit: the status and RateLimit-Remaining. */
async function limitSeen(pending: Promise<Response>) {
  const response = await pending;
  return [response.status, response.headers.get('ratelimit-remaining')] as const;
}

// Replicas share one database as well as one Redis: a real Postgres, so on the embedded pass this is skipped.
describe.skipIf(redisMissing || !suiteDatabaseUrl)(
  'two API processes sharing one Redis and one Postgres',
  () => {
    const processes: ApiProcess[] = [];
    let dropDatabase: (() => Promise<void>) | undefined;
    let key = '';

    beforeAll(async () => {
      const fresh = await createFreshDatabase(suiteDatabaseUrl as string);
      dropDatabase = fresh.drop;
      const env = {
        APP_ENV: 'production',
        DATABASE_URL: fresh.url,
        PATH: process.env.PATH,
        HOME: process.env.HOME,
      };
      const command = ['bun', 'run', 'keys:create', '--role', 'officer', '--name', 'rate limit'];
      const created = await runToExit(command, { cwd: repoRoot, env });
      if (created.code !== 0) throw new Error(`keys:create failed:\n${created.stderr}`);
      key = created.stdout.trim().split('\n').at(-1) ?? '';
      const started = await Promise.allSettled(
        [1, 2].map(() =>
          startApiProcess({
            databaseUrl: fresh.url,
            env: { RATE_LIMIT_PER_MINUTE: '10', REDIS_URL: SHARED_REDIS, REDIS_KEY_PREFIX: keyPrefix },
          }),
        ),
      );
      for (const result of started) if (result.status === 'fulfilled') processes.push(result.value);
      for (const result of started) if (result.status === 'rejected') throw result.reason;
    }, 60_000);

    afterAll(async () => {
      await Promise.all(processes.map((api) => api.stop('SIGKILL')));
      await dropDatabase?.();
    });

    test('alternating requests get one limit between them, not one each', async () => {
      const seen: (readonly [number, string | null])[] = [];
      for (let i = 0; i < 14; i++) {
        const api = processes[i % 2] as ApiProcess;
        seen.push(await limitSeen(fetch(`${api.url}/api/stats`, { headers: bearer(key) })));
      }
      expect(seen.map(([status]) => status)).toEqual([...Array(10).fill(200), ...Array(4).fill(429)]);
      expect(seen.slice(0, 10).map(([, remaining]) => remaining)).toEqual(
        Array.from({ length: 10 }, (_, i) => String(9 - i)),
      );
    });
  },
);

const ownRedisPort = await freePort();

describe.skipIf(redisMissing)('a Redis that goes away', () => {
  let redis: Subprocess | undefined;
  const redisCli = (...args: string[]) =>
    Bun.spawnSync(['redis-cli', '-p', String(ownRedisPort), ...args], { stdout: 'pipe', stderr: 'pipe' });

  async function startRedis() {
    const ephemeral = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    // DEBUG SLEEP stands for a Redis that hangs; Redis 7 refuses the command unless told.
    const debug = ['--enable-debug-command', 'yes'];
    redis = Bun.spawn(['redis-server', '--port', String(ownRedisPort), ...ephemeral, ...debug], {
      stdout: 'ignore',
      stderr: 'ignore',
    });
    redis.unref();
    const deadline = Date.now() + 10_000;
    while (redisCli('ping').stdout.toString().trim() !== 'PONG') {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${ownRedisPort} did not answer`);
      await Bun.sleep(50);
    }
  }
  async function stopRedis() {
    redisCli('shutdown', 'nosave');
    await redis?.exited;
  }

  beforeAll(startRedis);
  afterAll(() => redis?.kill('SIGKILL'));
  const server = useListeningTestApp({
    rateLimitPerMinute: 5,
    redisUrl: `redis://127.0.0.1:${ownRedisPort}`,
    redisKeyPrefix: keyPrefix,
    trustedProxies: ['127.0.0.1'],
  });

  const get = (client: string) =>
    fetch(`${server.url}/api/stats`, { headers: { 'x-forwarded-for': client, ...bearer(devKeys.officer) } });
  // One after the other: while Redis is tried again, the requests beside the one trying go unlimited.
  async function statusesOf(client: string, count: number) {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) statuses.push((await get(client)).status);
    return statuses;
  }
  const logged = (message: string) => server.logs.filter((line) => String(line.msg).startsWith(message));
  const unlimitedCount = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return Number(/^rate_limit_unlimited_total (\d+)$/m.exec(text)?.[1]);
  };

  test('limits through Redis, serves everyone while it is down, warns once, and limits again once it is back', async () => {
    expect(await statusesOf('198.51.100.1', 6)).toEqual([200, 200, 200, 200, 200, 429]);

    await stopRedis();
    const during = await Promise.all(Array.from({ length: 20 }, () => limitSeen(get('198.51.100.1'))));
    expect(during).toEqual(Array(20).fill([200, null]));
    expect(await statusesOf('198.51.100.1', 10)).toEqual(Array(10).fill(200));
    expect(logged('Redis unreachable')).toHaveLength(1);
    expect(logged('Redis unreachable')[0]).toMatchObject({ level: 'warn' });
    expect(await unlimitedCount()).toBe(30);

    await startRedis();
    await Bun.sleep(REDIS_RETRY_INTERVAL_MS + 100);
    // The Redis that came back is empty: the client starts from a full bucket.
    expect(await statusesOf('198.51.100.1', 6)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(logged('Redis answers again')).toHaveLength(1);
    expect(logged('Redis unreachable')).toHaveLength(1);
    expect(await unlimitedCount()).toBe(30);
  });

  test('a Redis that hangs costs a request at most its timeout', async () => {
    const hang = Bun.spawn(['redis-cli', '-p', String(ownRedisPort), 'debug', 'sleep', '2'], {
      stdout: 'ignore',
    });
    await Bun.sleep(100);
    const started = performance.now();
    const response = await get('198.51.100.2');
    const waitedMs = performance.now() - started;
    expect(response.status).toBe(200);
    expect(response.headers.get('ratelimit-limit')).toBeNull();
    expect(waitedMs).toBeGreaterThanOrEqual(REDIS_TIMEOUT_MS - 10);
    expect(waitedMs).toBeLessThan(REDIS_TIMEOUT_MS + 500);
    // Until the next try, requests do not wait for it at all.
    const next = performance.now();
    await get('198.51.100.2');
    expect(performance.now() - next).toBeLessThan(REDIS_TIMEOUT_MS);
    await hang.exited;
    await Bun.sleep(REDIS_RETRY_INTERVAL_MS + 100);
    expect((await get('198.51.100.2')).headers.get('ratelimit-limit')).toBe('5');
    expect(logged('Redis unreachable')).toHaveLength(2);
  });
});
