import { Elysia } from 'elysia';
import { clientAddress, trustedProxyMatcher } from './client-address';
import { Problem } from './problem';

const SWEEP_INTERVAL_MS = 60_000;

/**
 * Token buckets, one per client: `perMinute` tokens when full, refilled continuously. `take` spends one token
 * and says what the RateLimit headers should report.
 */
export function createTokenBuckets(perMinute: number, now: () => number = () => performance.now()) {
  const refillPerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();

  const refill = (bucket: { tokens: number; at: number }, time: number) =>
    Math.min(perMinute, bucket.tokens + (time - bucket.at) * refillPerMs);

  return {
    take(client: string) {
      const time = now();
      if (time - lastSweep > SWEEP_INTERVAL_MS) {
        // Full buckets carry no state worth keeping.
        for (const [key, bucket] of buckets) if (refill(bucket, time) >= perMinute) buckets.delete(key);
        lastSweep = time;
      }
      const bucket = buckets.get(client) ?? { tokens: perMinute, at: time };
      bucket.tokens = refill(bucket, time);
      bucket.at = time;
      const allowed = bucket.tokens >= 1;
      if (allowed) bucket.tokens -= 1;
      buckets.set(client, bucket);
      return {
        allowed,
        remaining: Math.floor(bucket.tokens),
        resetSeconds: Math.ceil((perMinute - bucket.tokens) / refillPerMs / 1000),
        retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000)),
      };
    },
  };
}

/** Limits each client on /api routes to `perMinute` requests; 0 turns it off. */
export function rateLimit({ perMinute, trustedProxies }: { perMinute: number; trustedProxies: string[] }) {
  const plugin = new Elysia({ name: 'rate-limit' });
  if (perMinute === 0) return plugin;
  const buckets = createTokenBuckets(perMinute);
  const isTrusted = trustedProxyMatcher(trustedProxies);
  return plugin.onRequest(({ request, server, set }) => {
    const { url } = request;
    if (!url.startsWith('/api/', url.indexOf('/', url.indexOf('//') + 2))) return;
    const peer = server?.requestIP(request)?.address;
    const result = buckets.take(clientAddress(peer, request.headers.get('x-forwarded-for'), isTrusted));
    set.headers['ratelimit-limit'] = String(perMinute);
    set.headers['ratelimit-remaining'] = String(result.remaining);
    set.headers['ratelimit-reset'] = String(result.resetSeconds);
    if (!result.allowed) {
      throw new Problem(429, `Over ${perMinute} requests a minute; retry in ${result.retryAfterSeconds} s.`, {
        headers: { 'retry-after': String(result.retryAfterSeconds) },
      });
    }
  });
}
