import { RedisClient } from 'bun';
import type { Logger } from '../logger';
import { type BucketStore, decide } from './rate-limit';

/** How long a request waits for Redis before it is served unlimited. */
export const REDIS_TIMEOUT_MS = 250;
/** While Redis is unreachable, how often one request tries it again (the others go unlimited at once). */
export const REDIS_RETRY_INTERVAL_MS = 1_000;

// The token bucket of createTokenBuckets, run atomically inside Redis on Redis's own clock, so every replica
// spends from the same bucket. KEYS[1]: the bucket; ARGV[1]: tokens per minute. Answers { allowed, tokens left }.
// The key expires once the bucket would be full again, when it holds nothing worth keeping.
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local per_ms = capacity / 60000
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / per_ms) + 1000)
return { allowed, tostring(tokens) }
`;
const TAKE_SCRIPT_SHA = new Bun.CryptoHasher('sha1').update(TAKE_SCRIPT).digest('hex');

export interface RedisBucketsOptions {
  url: string;
  perMinute: number;
  /** Put before every bucket key, so that several services or environments can share one Redis. */
  keyPrefix: string;
  logger: Logger;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Token buckets in Redis, shared by every replica. When Redis cannot be reached (refused, closed, or slower
 * than REDIS_TIMEOUT_MS) requests are served unlimited: take() answers undefined, a warning is logged once
 * per outage, and an info line when Redis answers again.
 */
export function createRedisBuckets({ url, perMinute, keyPrefix, logger }: RedisBucketsOptions): BucketStore {
  // Bun's own reconnection gives up for good after its retries; this store reconnects by itself instead, and
  // never queues a command while disconnected (a request would wait for it).
  const client = new RedisClient(url, {
    autoReconnect: false,
    enableOfflineQueue: false,
    connectionTimeout: REDIS_TIMEOUT_MS,
  });
  let connecting: Promise<void> | undefined;
  let unreachableSince: number | undefined;
  let nextAttemptAt = 0;

  const connect = () => {
    connecting ??= client.connect().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  async function takeInRedis(key: string): Promise<[number, string]> {
    if (!client.connected) await connect();
    const args = ['1', key, String(perMinute)];
    try {
      return (await client.send('EVALSHA', [TAKE_SCRIPT_SHA, ...args])) as [number, string];
    } catch (error) {
      // A Redis that restarted has forgotten the script.
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return (await client.send('EVAL', [TAKE_SCRIPT, ...args])) as [number, string];
    }
  }

  return {
    async take(key) {
      if (unreachableSince !== undefined) {
        if (performance.now() < nextAttemptAt) return undefined;
        nextAttemptAt = performance.now() + REDIS_RETRY_INTERVAL_MS;
      }
      try {
        const [allowed, tokensLeft] = await withTimeout(takeInRedis(`${keyPrefix}${key}`), REDIS_TIMEOUT_MS);
        if (unreachableSince !== undefined) {
          const seconds = Math.round((performance.now() - unreachableSince) / 1000);
          unreachableSince = undefined;
          logger.info({ unreachable_s: seconds }, 'Redis answers again: rate limits are shared again');
        }
        return decide(perMinute, Number(tokensLeft), allowed === 1);
      } catch (error) {
        if (unreachableSince === undefined) {
          unreachableSince = performance.now();
          nextAttemptAt = unreachableSince + REDIS_RETRY_INTERVAL_MS;
          // The message only: an error object could carry the URL, and with it a password.
          logger.warn(
            { reason: (error as Error).message },
            'Redis unreachable: requests are served without rate limits until it answers',
          );
        }
        return undefined;
      }
    },
    close() {
      client.close();
    },
  };
}
