import { describe, expect, test } from 'bun:test';
import { clientAddress, trustedProxyMatcher } from '../../src/http/client-address';
import { createTokenBuckets } from '../../src/http/rate-limit';
import { useListeningTestApp } from '../support/app';

describe('token buckets', () => {
  test('allow a full minute of requests at once, then refill one every 60/N seconds', () => {
    let now = 0;
    const buckets = createTokenBuckets(3, () => now);
    expect([1, 2, 3].map(() => buckets.take('a').allowed)).toEqual([true, true, true]);
    const refused = buckets.take('a');
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 20 });
    expect(buckets.take('b').allowed).toBeTrue();
    now += 20_000;
    expect(buckets.take('a').allowed).toBeTrue();
    expect(buckets.take('a').allowed).toBeFalse();
  });
});

describe('client address', () => {
  const trusted = trustedProxyMatcher(['10.0.0.1', '172.16.0.0/12']);

  test('is the socket peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(clientAddress('203.0.113.9', '1.2.3.4', trusted)).toBe('203.0.113.9');
  });

  test('is the nearest untrusted X-Forwarded-For hop behind trusted proxies', () => {
    expect(clientAddress('10.0.0.1', '1.2.3.4, 198.51.100.7', trusted)).toBe('198.51.100.7');
    expect(clientAddress('172.20.0.5', '198.51.100.7, 172.18.0.2', trusted)).toBe('198.51.100.7');
    expect(clientAddress('::ffff:10.0.0.1', '198.51.100.7', trusted)).toBe('198.51.100.7');
  });

  test('matches CIDR ranges exactly at their edges', () => {
    expect(trusted('172.31.255.255')).toBeTrue();
    expect(trusted('172.32.0.0')).toBeFalse();
    expect(trusted('172.15.255.255')).toBeFalse();
  });
});

describe('rate limiting on a listening server', () => {
  const server = useListeningTestApp({ rateLimitPerMinute: 3 });

  test('answers 429 problem+json with Retry-After after the configured count', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await fetch(`${server.url}/api/loans`, { headers: { 'x-forwarded-for': `198.51.100.${i}` } });
      statuses.push(last.status);
      if (i === 0) {
        expect(last.headers.get('ratelimit-limit')).toBe('3');
        expect(last.headers.get('ratelimit-remaining')).toBe('2');
        expect(Number(last.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
      }
    }
    // A spoofed X-Forwarded-For from an untrusted peer (this test) did not buy a fresh bucket.
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last?.headers.get('content-type')).toStartWith('application/problem+json');
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(last?.headers.get('ratelimit-remaining')).toBe('0');
  });

  test('leaves health, readiness, metrics and docs alone', async () => {
    for (const path of ['/health', '/ready', '/metrics']) {
      expect((await fetch(`${server.url}${path}`)).status).toBe(200);
    }
  });
});

describe('rate limiting behind a trusted proxy', () => {
  const server = useListeningTestApp({ rateLimitPerMinute: 2, trustedProxies: ['127.0.0.1'] });

  test('keeps one bucket per forwarded client', async () => {
    const get = (client: string) =>
      fetch(`${server.url}/api/stats`, { headers: { 'x-forwarded-for': client } }).then((r) => r.status);
    expect([await get('198.51.100.1'), await get('198.51.100.1'), await get('198.51.100.1')]).toEqual([
      200, 200, 429,
    ]);
    expect(await get('198.51.100.2')).toBe(200);
  });
});
