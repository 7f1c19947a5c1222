import { Elysia } from 'elysia';
import { isApiRoute } from './api-routes';
import { clientAddress, trustedProxyMatcher } from './client-address';
import { Problem } from './problem';

const SWEEP_INTERVAL_MS = 60_000;

// host [":" port] as RFC 9110 allows it: an IP literal in brackets, or a reg-name (RFC 3986's characters).
const VALID_HOST = /^(?:\[[\dA-Fa-f:.]+\]|[\w.~!$&'()*+,;=%-]+)(?::\d{1,5})?$/;

/**
 * 400 for a request whose Host is missing, empty or invalid. Bun hands such a request (`Host: a/b`, an empty
 * Host, HTTP/1.0 without one) to the app with a relative `request.url`. A request built in a test with
 * `new Request('http://localhost/…')` has an absolute URL and no Host header, and passes.
 */
export const requireValidHost = new Elysia({ name: 'require-valid-host' }).onRequest(({ request }) => {
  const host = request.headers.get('host');
  if (!request.url.startsWith('http') || (host !== null && !VALID_HOST.test(host))) {
    throw new Problem(400, 'Send a Host header naming this service (host or host:port).');
  }
});

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole tokens left: RateLimit-Remaining. */
  remaining: number;
  /** Seconds until the bucket is full again: RateLimit-Reset. */
  resetSeconds: number;
  /** Seconds until the next token: Retry-After on a 429. */
  retryAfterSeconds: number;
}

/**
 * What spending from a token bucket of `perMinute` tokens (refilled continuously, `perMinute / 60` a second)
 * means for the client, given the tokens left afterwards. Every store computes its answer here.
 */
export function decide(perMinute: number, tokensLeft: number, allowed: boolean): RateLimitDecision {
  const refillPerSecond = perMinute / 60;
  return {
    allowed,
    remaining: Math.floor(tokensLeft),
    resetSeconds: Math.ceil((perMinute - tokensLeft) / refillPerSecond),
    retryAfterSeconds: Math.max(1, Math.ceil((1 - tokensLeft) / refillPerSecond)),
  };
}

/** Where the buckets live: this process (createTokenBuckets) or Redis (createRedisBuckets), shared by replicas. */
export interface BucketStore {
  /** Spends one token of `key`'s bucket; undefined when the store cannot answer, and the request goes unlimited. */
  take(key: string): RateLimitDecision | undefined | Promise<RateLimitDecision | undefined>;
  close(): void;
}

/** Token buckets in this process, one per key. */
export function createTokenBuckets(perMinute: number, now: () => number = () => performance.now()) {
  const refillPerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();

  const refill = (bucket: { tokens: number; at: number }, time: number) =>
    Math.min(perMinute, bucket.tokens + (time - bucket.at) * refillPerMs);

  return {
    take(key: string): RateLimitDecision {
      const time = now();
      if (time - lastSweep > SWEEP_INTERVAL_MS) {
        // Full buckets carry no state worth keeping.
        for (const [stale, bucket] of buckets) if (refill(bucket, time) >= perMinute) buckets.delete(stale);
        lastSweep = time;
      }
      const bucket = buckets.get(key) ?? { tokens: perMinute, at: time };
      bucket.tokens = refill(bucket, time);
      bucket.at = time;
      const allowed = bucket.tokens >= 1;
      if (allowed) bucket.tokens -= 1;
      buckets.set(key, bucket);
      return decide(perMinute, bucket.tokens, allowed);
    },
    close() {
      buckets.clear();
    },
  };
}

export interface RateLimiterOptions {
  /** Requests per bucket per minute on /api routes; 0 turns limiting off. */
  perMinute: number;
  trustedProxies: string[];
  /** In this process unless given. */
  store?: BucketStore;
  /** Told of every request served without a limit because the store could not answer. */
  onUnlimited?: () => void;
}

/**
 * The limit on /api routes, one bucket per credential, and one per client address for requests with no
 * credential or a failed one (so random tokens cannot buy fresh buckets).
 *
 * The contract answers 404 (no route), then 401, then 429, then 413/415/400, so the limit runs once a route
 * has matched and before the body is read. Elysia's beforeHandle would come too late (after the body is
 * parsed and validated); the first route-level hook is parse for a method with a body and transform for the
 * others, so the plugin hooks both. Wiring, in this order:
 *
 *   const limiter = createRateLimiter({ … });
 *   app.use(authentication(createGate(authenticator, limiter.afterAuthentication)))
 *      .use(limiter.plugin)   // after authentication, before the JSON body parser
 *
 * The gate calls `afterAuthentication` right after authenticating, pass or fail: a pass is counted on the
 * credential, and the plugin then answers 429 when it is over; a failure is counted on the address, and an
 * address over its limit gets 429 in place of the 401, so random tokens cannot dodge the limit. Without a
 * gate the plugin counts every request on its address.
 */
export function createRateLimiter({
  perMinute,
  trustedProxies,
  store = createTokenBuckets(perMinute),
  onUnlimited,
}: RateLimiterOptions) {
  const isTrusted = trustedProxyMatcher(trustedProxies);
  // null: counted, but the store could not answer.
  const decisions = new WeakMap<Request, RateLimitDecision | null>();
  let server: { requestIP(request: Request): { address: string } | null } | null = null;

  const addressOf = (request: Request) =>
    clientAddress(server?.requestIP(request)?.address, request.headers.get('x-forwarded-for'), isTrusted);

  /** Spends one token for the request, once: the credential's when it has one, else its address's. */
  async function count(request: Request, credential: string | undefined): Promise<void> {
    if (perMinute === 0 || decisions.has(request)) return;
    decisions.set(request, null);
    const decision = await store.take(
      credential === undefined ? `address:${addressOf(request)}` : `credential:${credential}`,
    );
    if (decision) decisions.set(request, decision);
    else onUnlimited?.();
  }

  /** The 429 for a request over its limit, with the RateLimit headers on the response either way. */
  function check(request: Request, set: { headers: Record<string, unknown> }): void {
    const decision = decisions.get(request);
    if (!decision) return;
    set.headers['ratelimit-limit'] = String(perMinute);
    set.headers['ratelimit-remaining'] = String(decision.remaining);
    set.headers['ratelimit-reset'] = String(decision.resetSeconds);
    if (!decision.allowed) {
      const retryAfter = String(decision.retryAfterSeconds);
      throw new Problem(429, `Over ${perMinute} requests a minute; retry in ${retryAfter} s.`, {
        headers: { 'retry-after': retryAfter },
      });
    }
  }

  /**
   * For the authentication gate: counts the request on its credential, or on its address when it has none or
   * a failed one; an address over its limit gets 429 instead of 401, so guessing keys is throttled too.
   */
  async function afterAuthentication(
    request: Request,
    set: { headers: Record<string, unknown> },
    credential: string | undefined,
  ): Promise<void> {
    await count(request, credential);
    if (credential === undefined) check(request, set);
  }

  const enforce = async ({
    request,
    route,
    set,
  }: {
    request: Request;
    route: string;
    set: { headers: Record<string, unknown> };
  }) => {
    if (!isApiRoute(route)) return;
    await count(request, undefined);
    check(request, set);
  };

  const plugin = new Elysia({ name: 'rate-limit' })
    .onStart((app) => {
      server = app.server;
    })
    .onStop(() => store.close());
  if (perMinute > 0) {
    // Decided by the matched route's template: Elysia's `path` is cut out of request.url from its 12th
    // character on, which drops "/api" when the Host is shorter than four characters (`Host: x`).
    plugin.onParse({ as: 'global' }, enforce).onTransform({ as: 'global' }, enforce);
  }
  return { plugin, afterAuthentication };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
